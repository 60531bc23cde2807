// The statistics page: a line chart by day, the complaint rate by day against the providers' lines, and a
// bar chart by tag, from the numbers the page carries (Chart.js, served from static/). The tables under
// the charts show the same numbers.
(function () {
  "use strict";
  const source = document.getElementById("stats-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const locale = document.documentElement.lang || "en";  // numbers on the axes as the page's language writes them
  const colors = ["#0d6efd", "#198754", "#dc3545", "#fd7e14", "#6f42c1", "#20c997"];
  const days = document.getElementById("chart-days");
  if (days) {
    // Requests is drawn underneath, dashed: when everything is delivered the two lines are one, and the
    // Delivered line must still show (a lower `order` is drawn on top).
    const series = Object.keys(data.series).map(function (key, i) {
      const requests = key === "requests";
      return { label: data.names[key], data: data.series[key], borderColor: colors[i], backgroundColor: colors[i],
               tension: 0, order: requests ? 1 : 0, borderDash: requests ? [6, 4] : [], borderWidth: requests ? 2 : 3 };
    });
    new Chart(days, { type: "line", data: { labels: data.labels, datasets: series },
      options: { locale: locale, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  }
  const complaints = document.getElementById("chart-complaints");
  if (complaints && data.complaints) {
    const c = data.complaints;
    const line = function (label, value, color) {
      return { label: label, data: data.labels.map(function () { return value; }), borderColor: color,
               backgroundColor: color, borderDash: [6, 4], borderWidth: 1, pointRadius: 0, tension: 0 };
    };
    new Chart(complaints, { type: "line", data: { labels: data.labels, datasets: [
      { label: c.names.rate, data: c.rates, borderColor: colors[4], backgroundColor: colors[4], borderWidth: 3, tension: 0, spanGaps: true },
      line(c.names.watch, c.watch, colors[3]), line(c.names.limit, c.limit, colors[2]) ] },
      options: { locale: locale, maintainAspectRatio: false, animation: false,
                 scales: { y: { beginAtZero: true, suggestedMax: c.limit * 1.5, ticks: { callback: function (v) { return v + "%"; } } } } } });
  }
  const tags = document.getElementById("chart-tags");
  if (tags) {
    new Chart(tags, { type: "bar", data: { labels: data.tags.labels, datasets: [
      { label: data.names.requests, data: data.tags.requests, backgroundColor: colors[0] },
      { label: data.names.delivered, data: data.tags.delivered, backgroundColor: colors[1] } ] },
      options: { locale: locale, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  }
})();
