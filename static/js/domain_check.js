// The domain wizard: while a DNS check runs in the worker, poll its status and reload when it is done.
(function () {
  "use strict";
  const box = document.getElementById("check-progress");
  if (!box || box.dataset.checking !== "1") return;
  const url = box.dataset.statusUrl;
  const started = Date.now();
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (!data.checking) { window.location.reload(); return; }
        // Keep asking for two minutes; a worker that is down leaves the banner up with the button disabled.
        if (Date.now() - started < 120000) setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
