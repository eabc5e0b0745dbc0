// The playground's source editor: CodeMirror 6 with C/C++ and Rust highlighting, compiler
// diagnostics at their lines (@codemirror/lint), a breakpoint per line (click a line number)
// and the line the debugger stopped at. scripts/build-playground.sh bundles this file with
// esbuild into editor.js; app.js only uses the small API below.
import { EditorState, Compartment, StateField, StateEffect, RangeSet } from '@codemirror/state';
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  Decoration, GutterMarker, gutter,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching, indentOnInput } from '@codemirror/language';
import { closeBrackets, closeBracketsKeymap } from '@codemirror/autocomplete';
import { setDiagnostics, lintGutter } from '@codemirror/lint';
import { cpp } from '@codemirror/lang-cpp';
import { rust } from '@codemirror/lang-rust';

const languages = { c: cpp, cpp, rust };

// Breakpoints: a set of line starts, kept in step with edits.
const toggleBreakpoint = StateEffect.define();
const clearBreakpoints = StateEffect.define();

// A gutter mark: one character with a class.
class TextMarker extends GutterMarker {
  constructor(className, text, hidden = false) {
    super();
    Object.assign(this, { className, text, hidden });
  }

  eq(other) {
    return other.className === this.className && other.hidden === this.hidden;
  }

  toDOM() {
    const mark = document.createElement('span');
    mark.className = this.className;
    mark.textContent = this.text;
    if (this.hidden) mark.style.visibility = 'hidden';
    return mark;
  }
}
const breakpointMarker = new TextMarker('cm-breakpoint-dot', '●');
// Keeps the gutter as wide as a dot.
const spacerMarker = new TextMarker('cm-breakpoint-spacer', '●', true);

const breakpointField = StateField.define({
  create: () => RangeSet.empty,
  update(set, transaction) {
    set = set.map(transaction.changes);
    for (const effect of transaction.effects) {
      if (effect.is(clearBreakpoints)) set = RangeSet.empty;
      if (effect.is(toggleBreakpoint)) {
        let present = false;
        set.between(effect.value, effect.value, () => { present = true; });
        set = present
          ? set.update({ filter: (from) => from !== effect.value })
          : set.update({ add: [breakpointMarker.range(effect.value)] });
      }
    }
    return set;
  },
});

// The line the debugger stopped at: a highlighted line and an arrow in the gutter.
const setCurrentLine = StateEffect.define();
const currentMarker = new TextMarker('cm-current-arrow', '▶');
const currentLineDecoration = Decoration.line({ class: 'cm-debug-current' });

const currentLineField = StateField.define({
  create: () => null,
  update(position, transaction) {
    if (position !== null) position = transaction.changes.mapPos(position);
    for (const effect of transaction.effects) if (effect.is(setCurrentLine)) position = effect.value;
    return position;
  },
  provide: (field) => EditorView.decorations.from(field, (position) =>
    position === null ? Decoration.none : Decoration.set([currentLineDecoration.range(position)])),
});

const debugGutter = gutter({
  class: 'cm-debug-gutter',
  markers: (view) => {
    const current = view.state.field(currentLineField);
    const breakpoints = view.state.field(breakpointField);
    if (current === null) return breakpoints;
    return RangeSet.of([...rangesOf(breakpoints), currentMarker.range(current)], true);
  },
  initialSpacer: () => spacerMarker,
});

function rangesOf(set) {
  const ranges = [];
  for (let cursor = set.iter(); cursor.value; cursor.next()) ranges.push(cursor.value.range(cursor.from));
  return ranges;
}

const theme = EditorView.theme({
  '&': { height: '100%', fontSize: '13px' },
  '.cm-scroller': { fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace' },
  '.cm-gutters': { background: '#f3f5fa', borderRight: '1px solid #e1e5ee', color: '#8a94a8' },
  '.cm-lineNumbers .cm-gutterElement': { cursor: 'pointer', padding: '0 6px 0 4px' },
  '.cm-debug-gutter .cm-gutterElement': { width: '16px', textAlign: 'center' },
  '.cm-breakpoint-dot': { color: '#e0443a', fontSize: '12px' },
  '.cm-current-arrow': { color: '#3554d1', fontSize: '11px' },
  '.cm-debug-current': { background: '#fff4c2' },
  '.cm-activeLine': { background: '#f5f7fd' },
});

/**
 * Creates the editor in `parent`. `onEdit()` is called after each change of the text.
 * Returns { text, setText, language, setDiagnostics, breakpoints, setBreakpoints,
 * showCurrentLine, view }.
 */
export function createEditor(parent, { text = '', language = 'cpp', onEdit = () => {} } = {}) {
  const languageSlot = new Compartment();
  let currentLanguage = language;
  const lineNumberGutter = lineNumbers({
    domEventHandlers: {
      mousedown(view, line) {
        view.dispatch({ effects: toggleBreakpoint.of(line.from) });
        return true;
      },
    },
  });
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        breakpointField, currentLineField, debugGutter, lineNumberGutter, lintGutter(),
        highlightActiveLineGutter(), highlightActiveLine(), history(), drawSelection(),
        indentOnInput(), bracketMatching(), closeBrackets(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, indentWithTab]),
        languageSlot.of((languages[language] || cpp)()),
        EditorState.tabSize.of(4),
        theme,
        EditorView.updateListener.of((update) => { if (update.docChanged) onEdit(); }),
      ],
    }),
  });

  const lineAt = (number) => view.state.doc.line(Math.min(Math.max(number, 1), view.state.doc.lines));

  return {
    view,
    text: () => view.state.doc.toString(),
    language: () => currentLanguage,
    /** Replaces the text (and language); clears breakpoints, diagnostics and the stop. */
    setText(newText, newLanguage = currentLanguage) {
      currentLanguage = newLanguage;
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: newText },
        effects: [
          languageSlot.reconfigure((languages[newLanguage] || cpp)()),
          clearBreakpoints.of(null), setCurrentLine.of(null),
        ],
      });
      view.dispatch(setDiagnostics(view.state, []));
    },
    /** `diagnostics`: [{line, column, severity, message}] with 1-based lines and columns. */
    setDiagnostics(diagnostics) {
      const marks = diagnostics.filter((diagnostic) => diagnostic.line > 0).map((diagnostic) => {
        const line = lineAt(diagnostic.line);
        const from = Math.min(line.from + Math.max(diagnostic.column - 1, 0), line.to);
        const severity = { error: 'error', warning: 'warning' }[diagnostic.severity] || 'info';
        // Point at the rest of the line from the column: the compiler gives no end.
        return { from, to: Math.max(from + 1, line.to), severity, message: diagnostic.message };
      });
      view.dispatch(setDiagnostics(view.state, marks));
    },
    /** The 1-based line numbers with a breakpoint. */
    breakpoints() {
      return rangesOf(view.state.field(breakpointField)).map((range) => view.state.doc.lineAt(range.from).number);
    },
    setBreakpoints(lines) {
      const effects = [clearBreakpoints.of(null)];
      for (const number of lines) if (number >= 1 && number <= view.state.doc.lines) effects.push(toggleBreakpoint.of(lineAt(number).from));
      view.dispatch({ effects });
    },
    /** Marks `line` (1-based) as where the debugger stopped and scrolls to it; null clears. */
    showCurrentLine(number) {
      if (number === null || number === undefined) {
        view.dispatch({ effects: setCurrentLine.of(null) });
        return;
      }
      const line = lineAt(number);
      view.dispatch({
        effects: [setCurrentLine.of(line.from), EditorView.scrollIntoView(line.from, { y: 'center' })],
      });
    },
    goToLine(number) {
      const line = lineAt(number);
      view.dispatch({ selection: { anchor: line.from }, effects: EditorView.scrollIntoView(line.from, { y: 'center' }) });
      view.focus();
    },
  };
}
