// A batch send's page: while it is scheduled, sending or paused, poll its numbers and move the bar; reload
// when its status changes (started, paused elsewhere, done) so the actions match.
(function () {
  "use strict";
  const box = document.getElementById("batch-progress");
  if (!box) return;
  const bar = box.querySelector(".progress-bar");
  let status = null;
  function show(data) {
    bar.style.width = data.percent + "%";
    bar.textContent = data.percent + "%";
    bar.parentElement.setAttribute("aria-valuenow", data.percent);
    box.querySelectorAll("[data-count]").forEach(function (cell) {
      const value = data.counts[cell.dataset.count];
      if (value !== undefined) cell.textContent = value;
    });
  }
  function poll() {
    fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (status !== null && data.status !== status) { window.location.reload(); return; }
        status = data.status;
        show(data);
        if (data.active) setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
