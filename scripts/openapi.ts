/**
 * Writes docs/openapi.json from the API's schemas (`npm run openapi`);
 * `--check` fails instead when the committed file differs.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { openApiText } from "../src/api/openapi.ts";

const file = fileURLToPath(new URL("../docs/openapi.json", import.meta.url));
const text = openApiText();
if (process.argv.includes("--check")) {
  if (readFileSync(file, "utf8") !== text) {
    console.error("docs/openapi.json is out of date: run `npm run openapi`");
    process.exit(1);
  }
} else {
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
}
