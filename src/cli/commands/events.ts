// `clauseguard events import <file>`: a file of usage events posted to a running server, with a progress bar on a terminal.
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { type ServerOptions, apiOf, parseBatchSize, serverOptions } from "../command-options";
import { importEvents } from "../event-import";
import { exitCodes } from "../operator-error";

export function registerEventsCommands(program: Command): void {
  const events = program.command("events").description("work with usage events on a running server");
  serverOptions(
    events
      .command("import <file>")
      .description("post a .ndjson/.jsonl or .csv file of usage events of any size to a running server; exit 5 if any line was rejected")
      .option("--batch-size <n>", "events per request (1-5000)", parseBatchSize, 2000)
      .option("--quiet", "no progress bar"),
  ).action(async (file: string, opts: ServerOptions & { batchSize: number; quiet?: boolean }) => {
    const api = apiOf(opts);
    const bar = !opts.quiet && process.stderr.isTTY ? new SingleBar({ format: "{bar} {percentage}% | {lines} lines | {accepted} accepted, {duplicates} duplicate, {rejected} rejected", stream: process.stderr }) : undefined;
    let started = false;
    const summary = await importEvents({
      api,
      file,
      batchSize: opts.batchSize,
      onProgress: ({ bytesRead, totalBytes, summary: s }) => {
        if (!bar) return;
        const payload = { lines: s.lines, accepted: s.accepted, duplicates: s.duplicates, rejected: s.rejected };
        if (!started) bar.start(totalBytes || 1, 0, payload);
        started = true;
        bar.update(bytesRead, payload);
      },
    });
    bar?.stop();
    for (const r of summary.rejections) process.stderr.write(`line ${r.line}: ${r.errors.map((e) => `${e.path ? `${e.path}: ` : ""}${e.message}`).join("; ")}\n`);
    if (summary.rejected > summary.rejections.length) process.stderr.write(`... and ${summary.rejected - summary.rejections.length} more rejected line(s)\n`);
    process.stdout.write(`${file}: ${summary.lines} event(s) read, ${summary.accepted} accepted, ${summary.duplicates} duplicate, ${summary.rejected} rejected\n`);
    if (summary.rejected > 0) process.exitCode = exitCodes.rejected;
  });
}
