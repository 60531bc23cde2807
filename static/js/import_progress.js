// An import's page: while the worker runs it, poll its status, move the bar, and reload when it ends.
(function () {
  "use strict";
  const box = document.getElementById("import-progress");
  if (!box) return;
  const bar = box.querySelector(".progress-bar");
  const frame = box.querySelector(".progress");
  function poll() {
    fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (!data.active) { window.location.reload(); return; }
        bar.style.width = data.progress + "%";
        bar.textContent = data.progress + "%";
        frame.setAttribute("aria-valuenow", data.progress);
        box.querySelector("[data-status]").textContent = data.status_label;
        box.querySelector("[data-rows]").textContent = data.rows_read;
        setTimeout(poll, 700);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
