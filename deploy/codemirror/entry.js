// The template editor's code editor: CodeMirror 6 over a textarea that stays the form's field.
//
// DirectMailEditor.attach(textarea, {language: "html" | "mjml" | "text", variables: ["UserName", ...]})
// hides the textarea, shows an editor with line numbers, highlighting, search (Ctrl-F), bracket and tag
// closing, and "{" completion of the variables; every change is written back to the textarea and an
// "input" event fired on it, so the page's preview and checks work as with the bare textarea (which is
// what a browser without JavaScript shows). The returned object can switch the language and mark an
// error's line (markError(line, message); clearErrors()).
import { autocompletion } from "@codemirror/autocomplete";
import { html } from "@codemirror/lang-html";
import { xml } from "@codemirror/lang-xml";
import { setDiagnostics } from "@codemirror/lint";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { basicSetup } from "codemirror";

function languageOf(name) {
  if (name === "html") return html();
  if (name === "mjml") return xml();
  return [];
}

function variableCompletion(variables) {
  return function (context) {
    const word = context.matchBefore(/\{[A-Za-z_0-9]*/);
    if (!word || (word.from === word.to && !context.explicit)) return null;
    return {
      from: word.from,
      options: variables.map(function (name) {
        return { label: "{" + name + "}", type: "variable", apply: "{" + name + "}" };
      }),
      validFor: /^\{[A-Za-z_0-9]*$/,
    };
  };
}

function labelOf(textarea) {
  const label = textarea.id && document.querySelector("label[for='" + textarea.id + "']");
  return label ? label.textContent.replace("*", "").trim() : textarea.getAttribute("aria-label") || textarea.name;
}

export function attach(textarea, options) {
  const language = new Compartment();
  const variables = (options && options.variables) || [];
  const view = new EditorView({
    parent: textarea.parentNode,
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        basicSetup,
        language.of(languageOf(options && options.language)),
        autocompletion({ override: [variableCompletion(variables)], activateOnTyping: true }),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ "aria-label": labelOf(textarea) }),
        EditorView.updateListener.of(function (update) {
          if (!update.docChanged) return;
          textarea.value = update.state.doc.toString();
          textarea.dispatchEvent(new Event("input", { bubbles: true }));
        }),
      ],
    }),
  });
  textarea.parentNode.insertBefore(view.dom, textarea.nextSibling);
  textarea.hidden = true;
  view.dom.classList.add("code-editor", "form-control", "p-0");
  view.dom.dataset.editorFor = textarea.name;
  return {
    view: view,
    setLanguage: function (name) {
      view.dispatch({ effects: language.reconfigure(languageOf(name)) });
    },
    markError: function (line, message) {
      const doc = view.state.doc;
      const at = doc.line(Math.min(Math.max(line || 1, 1), doc.lines));
      view.dispatch(setDiagnostics(view.state, [{ from: at.from, to: at.to, severity: "error", message: message }]));
      view.dispatch({ effects: EditorView.scrollIntoView(at.from, { y: "center" }) });
    },
    clearErrors: function () {
      view.dispatch(setDiagnostics(view.state, []));
    },
  };
}
