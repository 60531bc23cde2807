// The Queue page: "Hold or bounce…" on a row fills the action form with that row's keys.
(function () {
  "use strict";
  document.querySelectorAll("[data-fill]").forEach(function (link) {
    link.addEventListener("click", function () {
      var form = document.getElementById("queue-action-form");
      var keys = new URLSearchParams(link.getAttribute("data-fill"));
      form.querySelectorAll("input[id^='act-']").forEach(function (input) {
        if (input.name !== "reason") {
          input.value = keys.get(input.name) || "";
        }
      });
      document.getElementById("act-action").value = "suspend";
      document.getElementById("act-reason").focus();
    });
  });
})();
