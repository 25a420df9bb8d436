// ESLint (flat config) for the JavaScript of the HTML views and its node tests: `make lint`.
import js from "@eslint/js";

const readonly = (names) => Object.fromEntries(names.map((name) => [name, "readonly"]));

// The views are classic scripts inlined into one offline page: browser globals only, no network,
// and nothing that parses HTML (every token and label goes through textContent).
const pageRules = {
  eqeqeq: "error",
  "no-implicit-globals": "error",
  "no-shadow": "error",
  "no-restricted-globals": ["error",
    {name: "fetch", message: "the page is offline: embed the data in the payload"},
    {name: "XMLHttpRequest", message: "the page is offline: embed the data in the payload"},
    {name: "eval", message: "no code from strings"}],
  "no-restricted-properties": ["error",
    {property: "innerHTML", message: "build elements with createElement/textContent"},
    {property: "outerHTML", message: "build elements with createElement/textContent"},
    {property: "insertAdjacentHTML", message: "build elements with createElement/textContent"},
    {object: "document", property: "write", message: "build elements with createElement/textContent"}],
};

export default [
  {ignores: ["node_modules/", ".venv/", "gallery/"]},
  js.configs.recommended,
  {
    files: ["renderers/assets/**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: "script",
      globals: {
        ...readonly(["window", "document", "atob", "Image", "performance", "setInterval",
                     "clearInterval", "setTimeout"]),
        module: "readonly",  // core.js is UMD: module.exports under node
      },
    },
    rules: pageRules,
  },
  {
    files: ["tests/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "commonjs",
      globals: readonly(["require", "module", "process", "__dirname", "Buffer", "console"]),
    },
    rules: {eqeqeq: "error", "no-shadow": "error"},
  },
  {
    files: ["eslint.config.mjs"],
    languageOptions: {ecmaVersion: 2022, sourceType: "module"},
  },
];
