// A domain's DMARC reports page: messages passing and failing DMARC by day, stacked (Chart.js, served from
// static/). The tables under the chart show the same numbers.
(function () {
  "use strict";
  const source = document.getElementById("dmarc-data");
  const canvas = document.getElementById("chart-dmarc");
  if (!source || !canvas || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const locale = document.documentElement.lang || "en";
  new Chart(canvas, { type: "bar", data: { labels: data.labels, datasets: [
    { label: data.names.passed, data: data.passed, backgroundColor: "#198754" },
    { label: data.names.failed, data: data.failed, backgroundColor: "#dc3545" } ] },
    options: { locale: locale, maintainAspectRatio: false, animation: false,
               scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } });
})();
