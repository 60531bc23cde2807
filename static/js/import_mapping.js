// The import's column mapping: a field-name box only for columns that become custom fields.
(function () {
  "use strict";
  const form = document.getElementById("mapping-form");
  if (!form) return;
  function sync() {
    form.querySelectorAll("th").forEach(function (cell) {
      const choice = cell.querySelector("select");
      const name = cell.querySelector("[data-custom-name]");
      if (choice && name) name.hidden = choice.value !== "custom";
    });
  }
  form.addEventListener("change", sync);
  sync();
})();
