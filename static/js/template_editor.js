// The template editor: a live preview as you type (the server sanitizes and renders; the frame is
// sandboxed with a CSP that lets nothing run), a table of sample values (saved with the draft), desktop and
// mobile widths, what the sanitizer removed, variables without sample data, and for SMS the character and
// segment count. A reviewer's page has no editor: the preview renders the version as saved.
(function () {
  "use strict";
  const editor = document.getElementById("template-editor");
  if (!editor) return;
  const form = document.getElementById("content-form") || document.getElementById("version-content");
  const frame = document.getElementById("preview");
  const data = document.getElementById("sample-data");
  const subjectOut = document.getElementById("preview-subject");
  const removedOut = document.getElementById("preview-removed");
  const missingOut = document.getElementById("preview-missing");
  const previewUrl = editor.dataset.previewUrl;
  let timer = null;

  function field(name) {
    const input = form && form.querySelector("[name='" + name + "']");
    return input ? input.value : "";
  }

  function refresh() {
    if (!form) return;
    const body = new URLSearchParams();
    body.set("subject", field("subject"));
    body.set("html_body", field("html_body"));
    body.set("text_body", field("text_body"));
    body.set("data", data ? data.value : "");
    body.set("csrfmiddlewaretoken", field("csrfmiddlewaretoken"));
    fetch(previewUrl, { method: "POST", body: body, credentials: "same-origin",
                        headers: { "X-CSRFToken": field("csrfmiddlewaretoken") } })
      .then(function (response) { return response.json(); })
      .then(function (result) {
        frame.src = result.url;
        if (result.variables) ensureRows(result.variables);
        if (subjectOut) subjectOut.textContent = result.subject;
        if (removedOut) {
          removedOut.textContent = result.removed.join(", ");
          removedOut.closest("[data-when-removed]").hidden = result.removed.length === 0;
        }
        if (missingOut) {
          missingOut.textContent = result.missing.map(function (n) { return "{" + n + "}"; }).join(", ");
          missingOut.closest("[data-when-missing]").hidden = result.missing.length === 0;
        }
      });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  // The sample table: one row per variable; its values, as JSON, are what the preview and test sends use.
  const table = document.getElementById("sample-table");
  let samples = {};
  try { samples = JSON.parse((data && data.value) || "{}") || {}; } catch (e) { samples = {}; }

  function syncSamples() {
    if (!table || !data) return;
    table.querySelectorAll("tr[data-variable]").forEach(function (row) {
      samples[row.dataset.variable] = row.querySelector("input").value;
    });
    data.value = JSON.stringify(samples);
  }

  function ensureRows(names) {
    if (!table) return;
    const body = table.tBodies[0];
    names.forEach(function (name) {
      if (name === "EAddr" || body.querySelector("tr[data-variable='" + CSS.escape(name) + "']")) return;
      const row = body.insertRow();
      row.dataset.variable = name;
      const head = document.createElement("th");
      head.className = "small fw-normal text-nowrap";
      const code = document.createElement("code");
      code.textContent = "{" + name + "}";
      head.appendChild(code);
      row.appendChild(head);
      const input = document.createElement("input");
      input.className = "form-control form-control-sm";
      input.type = "text";
      input.value = samples[name] || "";
      input.setAttribute("aria-label", name);
      row.insertCell().appendChild(input);
    });
    const empty = document.getElementById("sample-empty");
    if (empty) empty.hidden = body.rows.length > 0;
  }

  if (table) table.addEventListener("input", function () { syncSamples(); later(); });

  // Sample data from a row of a recipient list: its fields, as a batch send would fill them in.
  const sampleLoad = document.getElementById("sample-load");
  if (sampleLoad && data) {
    sampleLoad.addEventListener("click", function () {
      const url = new URL(document.getElementById("sample-list").value, window.location.href);
      const address = document.getElementById("sample-address").value.trim();
      if (address) url.searchParams.set("email", address);
      const error = document.getElementById("sample-error");
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (result) {
          error.hidden = !result.error;
          error.textContent = result.error || "";
          if (result.error) return;
          Object.keys(result.variables).forEach(function (name) { samples[name] = result.variables[name]; });
          ensureRows(Object.keys(result.variables));
          table.querySelectorAll("tr[data-variable]").forEach(function (row) {
            if (row.dataset.variable in result.variables) {
              row.querySelector("input").value = result.variables[row.dataset.variable];
            }
          });
          syncSamples();
          refresh();
        });
    });
  }

  if (form) form.addEventListener("input", later);
  document.querySelectorAll("[data-preview-width]").forEach(function (button) {
    button.addEventListener("click", function () {
      frame.style.width = button.dataset.previewWidth;
    });
  });

  // SMS: GSM-7 fits 160 characters in one message (153 a part when split), anything else UCS-2, 70 (67).
  const sms = document.getElementById("sms-count");
  const GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
              "¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const GSM_EXTENDED = "^{}\\[~]|€";
  function countSms() {
    const text = field("text_body");
    let gsm = true, units = 0;
    for (const ch of text) {
      if (GSM.indexOf(ch) >= 0) units += 1;
      else if (GSM_EXTENDED.indexOf(ch) >= 0) units += 2;
      else { gsm = false; break; }
    }
    if (!gsm) units = Array.from(text).length;
    const single = gsm ? 160 : 70, part = gsm ? 153 : 67;
    const segments = units === 0 ? 0 : (units <= single ? 1 : Math.ceil(units / part));
    sms.textContent = sms.dataset.label.replace("%(chars)s", units).replace("%(segments)s", segments)
      .replace("%(encoding)s", gsm ? "GSM-7" : "UCS-2");
  }
  if (sms && form) { form.addEventListener("input", countSms); countSms(); }

  // A test send uses the sample data too.
  const testSend = document.getElementById("test-send");
  if (testSend) {
    testSend.addEventListener("submit", function () {
      document.getElementById("test-data").value = data ? data.value : "";
    });
  }

  refresh();
})();
