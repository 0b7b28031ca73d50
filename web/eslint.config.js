// ESLint for onemap's own JavaScript (web/static, web/test): strict — no unused variables or
// code, no empty or silent catch. Run: cd web && npx --no-install eslint .
import js from "@eslint/js";
import globals from "globals";

const SWALLOWED = "an error must not be swallowed: show it, or handle it and say in a comment why the page carries on";

export default [
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      // Leaflet and its plugins are classic scripts from npm, loaded before our modules.
      globals: { ...globals.browser, L: "readonly", htmlToImage: "readonly", uPlot: "readonly" },
    },
  },
  {
    files: ["static/share-sw.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.serviceworker, __ASSETS__: "readonly" } },
  },
  {
    files: ["test/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: globals.node },
  },
  {
    rules: {
      "no-unused-vars": ["error", { vars: "all", args: "after-used", caughtErrors: "all", ignoreRestSiblings: false }],
      "no-unused-expressions": "error",
      "no-unused-private-class-members": "error",
      "no-unreachable-loop": "error",
      "no-useless-return": "error",
      "no-useless-concat": "error",
      "no-lone-blocks": "error",
      "no-empty": ["error", { allowEmptyCatch: false }],
      "no-empty-function": "error",
      "no-restricted-syntax": ["error",
        // try { … } catch { } and catch (e) { /* only a comment */ }: the error is gone
        { selector: "CatchClause[body.body.length=0]", message: SWALLOWED },
        // catch { … } without a binding cannot even say what went wrong
        { selector: "CatchClause[param=null]", message: SWALLOWED },
        // promise.catch(() => {}), .catch(function () {}), .then(ok, () => {})
        { selector: "CallExpression[callee.property.name='catch'] > :function.arguments[body.type='BlockStatement'][body.body.length=0]", message: SWALLOWED },
        { selector: "CallExpression[callee.property.name='then'] > :function.arguments:nth-child(2)[body.type='BlockStatement'][body.body.length=0]", message: SWALLOWED },
        // promise.catch(() => null): a handler that never looks at the error
        { selector: "CallExpression[callee.property.name='catch'] > :function.arguments[params.length=0]", message: SWALLOWED },
      ],
    },
  },
];
