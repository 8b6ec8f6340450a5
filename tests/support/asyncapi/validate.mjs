// Validates AsyncAPI documents with the official parser (@asyncapi/parser, pinned by package-lock.json).
// Usage: node validate.mjs FILE...   Prints one JSON line per file: its path and every diagnostic;
// exits 1 when any diagnostic has error severity (0), 2 when a file cannot be read.
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    console.error(`${file}: ${error.message}`);
    process.exit(2);
  }
  const { document, diagnostics } = await parser.parse(text, { source: file });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  if (errors.length > 0 || document === undefined) failed = true;
  console.log(JSON.stringify({
    file,
    parsed: document !== undefined,
    diagnostics: diagnostics.map((d) => ({ severity: d.severity, code: d.code, message: d.message, path: d.path })),
  }));
}
process.exit(failed ? 1 : 0);
