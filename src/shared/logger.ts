// Structured JSON logs (pino) with secrets redacted; pretty-printed when attached to a terminal.
import pino, { type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  return pino({
    level,
    redact: {
      paths: ["req.headers.authorization", "authorization", "key", "secret", "*.key", "*.secret"],
      censor: "[redacted]",
    },
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" } } } : {}),
  });
}
