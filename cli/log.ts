import pino, { type Logger, type LoggerOptions } from 'pino';
import { withErrorCode } from '../protocol/errors.js';

/** Every line that logs a coded error as `err` also carries its `code` at the top (protocol/errors.ts). */
export const LOG_FORMATTERS: LoggerOptions['formatters'] = { log: withErrorCode };

/** pino: pretty on a terminal, JSON lines otherwise (files, journald, CI); on stderr when stdout carries data (`agent --detections -`). */
export function createLogger(name: string, opts: { stderr?: boolean } = {}): Logger {
  const level = process.env.EDGEFIT_LOG_LEVEL ?? 'info';
  const fd = opts.stderr ? 2 : 1;
  if ((opts.stderr ? process.stderr : process.stdout).isTTY) {
    return pino({ name, level, formatters: LOG_FORMATTERS, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', destination: fd } } });
  }
  return opts.stderr ? pino({ name, level, formatters: LOG_FORMATTERS }, pino.destination(2)) : pino({ name, level, formatters: LOG_FORMATTERS });
}

/**
 * A daemon that cannot stop is worse than one that stops untidily: past this
 * the process exits anyway (systemd would SIGKILL it after 90 s, a test's
 * teardown waits 60 s). SQLite's journal keeps the controller's database whole.
 */
export const SHUTDOWN_DEADLINE_MS = 20_000;

/** Runs `stop` once on SIGINT/SIGTERM, then exits; exits 1 if it has not finished within SHUTDOWN_DEADLINE_MS. */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time: exiting anyway');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
