// A validation's page: its addresses by Status as a doughnut (Chart.js, served from static/), in the colours
// of the table beside it. The cards above the chart show the same numbers.
(function () {
  "use strict";
  const source = document.getElementById("validation-data");
  const canvas = document.getElementById("chart-validation");
  if (!source || !canvas || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const colours = { VALID: "#198754", CATCHALL: "#0dcaf0", UNKNOWN: "#adb5bd", INVALID: "#dc3545", DONOTMAIL: "#ffc107" };
  new Chart(canvas, { type: "doughnut", data: { labels: data.labels, datasets: [
    { data: data.counts, backgroundColor: data.labels.map((label) => colours[label] || "#6c757d") } ] },
    options: { locale: document.documentElement.lang || "en", maintainAspectRatio: false, animation: false,
               plugins: { legend: { position: "bottom" } } } });
})();
