// The code a worker thread of ClauseGuard starts with: the compiled .js entry beside the caller,
// or the .ts source through tsx when ClauseGuard runs from its sources.
import path from "node:path";

/** `callerFile`: the caller's __filename; `entry`: the entry's base name, without extension, in the same folder. */
export function threadScript(callerFile: string, entry: string): string {
  const ext = path.extname(callerFile);
  const file = path.join(path.dirname(callerFile), `${entry}${ext}`);
  const register = ext === ".ts" ? `require(${JSON.stringify(require.resolve("tsx/cjs/api"))}).register();` : "";
  return `${register} require(${JSON.stringify(file)});`;
}
