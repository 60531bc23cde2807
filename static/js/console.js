// Small behaviours of the console, no framework: copy buttons, confirmation prompts, select-all boxes,
// filters that apply when chosen (the Content-Security-Policy allows no inline handlers).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy-target]");
    if (!button) return;
    const target = document.querySelector(button.getAttribute("data-copy-target"));
    if (!target) return;
    const text = target.value !== undefined ? target.value : target.textContent;
    navigator.clipboard.writeText(text.trim()).then(function () {
      const original = button.textContent;
      button.textContent = button.getAttribute("data-copied-label") || original;
      setTimeout(function () { button.textContent = original; }, 1500);
    });
  });
  document.addEventListener("change", function (event) {
    const name = event.target.getAttribute("data-select-all");
    if (!name) return;
    const form = event.target.closest("form") || document;
    form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });
  document.addEventListener("change", function (event) {
    if (event.target.hasAttribute("data-autosubmit") && event.target.form) event.target.form.submit();
  });
  document.addEventListener("submit", function (event) {
    const message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
