import pino, { type Logger } from 'pino';

/** pino: pretty on a terminal, JSON lines otherwise (files, journald, CI); on stderr when stdout carries data (`agent --detections -`). */
export function createLogger(name: string, opts: { stderr?: boolean } = {}): Logger {
  const level = process.env.EDGEFIT_LOG_LEVEL ?? 'info';
  const fd = opts.stderr ? 2 : 1;
  if ((opts.stderr ? process.stderr : process.stdout).isTTY) {
    return pino({ name, level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', destination: fd } } });
  }
  return opts.stderr ? pino({ name, level }, pino.destination(2)) : pino({ name, level });
}

/** Runs `stop` once on SIGINT/SIGTERM, then exits. */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
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
