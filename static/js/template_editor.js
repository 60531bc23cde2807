// The template editor: a live preview as you type (the server sanitizes and renders; the frame is
// sandboxed with a CSP that lets nothing run), sample data, desktop and mobile widths, what the sanitizer
// removed, variables without sample data, and for SMS the character and segment count.
(function () {
  "use strict";
  const editor = document.getElementById("template-editor");
  if (!editor) return;
  const form = editor.querySelector("form");
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
          data.value = JSON.stringify(result.variables);
          data.dispatchEvent(new Event("input"));
        });
    });
  }

  if (form) form.addEventListener("input", later);
  if (data) data.addEventListener("input", later);
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
