// The template editor: CodeMirror over the body and text fields (static/vendor/codemirror; without
// JavaScript they stay textareas), a live preview as you type (the server compiles MJML, inlines, sanitizes
// and renders; the frame is sandboxed with a CSP that lets nothing run) at desktop or mobile width, in an
// approximation of dark mode, with images blocked or as the text part, the inbox line (sender, subject,
// preheader), the pre-flight checks, a compile error at its line, a table of sample values (saved with the
// draft), what the sanitizer removed, variables without sample data, SpamAssassin's score on demand, and for
// SMS the character and segment count. A reviewer's page has no editor: the preview renders the version as
// saved.
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
  const sourceError = document.getElementById("source-error");
  const textOut = document.getElementById("preview-text");
  const preheaderOut = document.getElementById("preview-preheader");
  const dark = document.getElementById("preview-dark");
  const images = document.getElementById("preview-images");
  let timer = null;
  let frameUrl = frame.getAttribute("src");

  function field(name) {
    const input = form && form.querySelector("[name='" + name + "']:not([type=radio]), [name='" + name + "']:checked");
    return input ? input.value : "";
  }

  // The code editors: CodeMirror when its bundle loaded, the textareas otherwise.
  const editors = {};
  const variablesJson = document.getElementById("editor-variables");
  const variables = variablesJson ? JSON.parse(variablesJson.textContent) : [];
  if (window.DirectMailEditor && form) {
    form.querySelectorAll("textarea[data-code-editor]").forEach(function (area) {
      const language = area.dataset.codeEditor === "html" ? (field("body_format") || "html") : "text";
      editors[area.name] = window.DirectMailEditor.attach(area, { language: language, variables: variables });
    });
    form.querySelectorAll("[name=body_format]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        if (editors.html_body) editors.html_body.setLanguage(field("body_format"));
      });
    });
    const errorLine = parseInt(editor.dataset.errorLine || "0", 10);
    if (errorLine && editors.html_body) editors.html_body.markError(errorLine, "");
  }

  function showFrame() {
    const url = new URL(frameUrl, window.location.href);
    url.searchParams.delete("dark");
    url.searchParams.delete("images");
    if (dark && dark.checked) url.searchParams.set("dark", "1");
    if (images && !images.checked) url.searchParams.set("images", "0");
    frame.src = url.pathname + url.search;
  }

  function showChecks(findings) {
    const list = document.getElementById("checks");
    if (!list || !findings) return;
    list.replaceChildren();
    findings.forEach(function (finding) {
      const item = document.createElement("li");
      item.className = "mb-1";
      item.dataset.check = finding.code;
      const badge = document.createElement("span");
      badge.className = "badge " + (finding.level === "warning" ? "text-bg-warning" : "text-bg-light border");
      badge.textContent = list.dataset[finding.level === "warning" ? "warning" : "note"] || finding.level;
      item.append(badge, " " + finding.message);
      if (finding.examples.length) {
        const examples = document.createElement("span");
        examples.className = "text-body-secondary";
        examples.textContent = " " + finding.examples.join(", ");
        item.append(examples);
      }
      list.append(item);
    });
    document.getElementById("checks-clear").hidden = findings.length > 0;
  }

  function content() {
    const body = new URLSearchParams();
    ["subject", "html_body", "text_body", "body_format", "from_alias"].forEach(function (name) {
      body.set(name, field(name));
    });
    body.set("data", data ? data.value : "");
    body.set("csrfmiddlewaretoken", field("csrfmiddlewaretoken"));
    return body;
  }

  function refresh() {
    if (!form) return;
    fetch(previewUrl, { method: "POST", body: content(), credentials: "same-origin",
                        headers: { "X-CSRFToken": field("csrfmiddlewaretoken") } })
      .then(function (response) { return response.json(); })
      .then(function (result) {
        if (sourceError) {
          sourceError.hidden = !result.error;
          sourceError.textContent = result.error || "";
        }
        if (editors.html_body) {
          if (result.error) editors.html_body.markError(result.line, result.error);
          else editors.html_body.clearErrors();
        }
        if (result.error) return;
        frameUrl = result.url;
        showFrame();
        if (textOut) textOut.textContent = result.text;
        if (preheaderOut) preheaderOut.textContent = result.preheader;
        const from = document.getElementById("inbox-from");
        if (from) from.textContent = field("from_alias") || from.dataset.fallback;
        showChecks(result.checks);
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

  if (form) {
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  }
  function press(group, button) {
    document.querySelectorAll(group).forEach(function (other) {
      other.classList.toggle("active", other === button);
      other.setAttribute("aria-pressed", other === button ? "true" : "false");
    });
  }
  document.querySelectorAll("[data-preview-width]").forEach(function (button) {
    button.addEventListener("click", function () {
      frame.style.width = button.dataset.previewWidth;
      press("[data-preview-width]", button);
    });
  });
  document.querySelectorAll("[data-preview-part]").forEach(function (button) {
    button.addEventListener("click", function () {
      const text = button.dataset.previewPart === "text";
      frame.hidden = text;
      textOut.hidden = !text;
      press("[data-preview-part]", button);
    });
  });
  if (dark) dark.addEventListener("change", showFrame);
  if (images) images.addEventListener("change", showFrame);

  // SpamAssassin's score of what is in the editor, with the rules that fired.
  const spamRun = document.getElementById("spam-run");
  if (spamRun) {
    spamRun.addEventListener("click", function () {
      const out = document.getElementById("spam-result");
      out.textContent = "…";
      fetch(editor.dataset.spamUrl, { method: "POST", body: content(), credentials: "same-origin",
                                      headers: { "X-CSRFToken": field("csrfmiddlewaretoken") } })
        .then(function (response) { return response.json(); })
        .then(function (result) {
          const rules = document.getElementById("spam-rules");
          if (result.error) {
            out.textContent = result.error;
            out.className = "ms-2 text-danger";
            return;
          }
          out.className = "ms-2 " + (result.spam ? "text-danger" : "text-success");
          out.textContent = spamRun.dataset.label.replace("%(score)s", result.score)
            .replace("%(threshold)s", result.threshold);
          out.dataset.score = result.score;
          const body = rules.tBodies[0];
          body.replaceChildren();
          result.rules.forEach(function (rule) {
            const row = body.insertRow();
            row.insertCell().textContent = rule[0];
            row.cells[0].className = "text-end";
            const code = document.createElement("code");
            code.textContent = rule[1];
            row.insertCell().appendChild(code);
            row.insertCell().textContent = rule[2];
          });
          rules.hidden = result.rules.length === 0;
        });
    });
  }

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
