import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * An MJPEG camera as IP cameras serve it: multipart/x-mixed-replace, one JPEG
 * per part, at `fps`. cut() drops every connection and stops listening (the
 * camera lost power); restore() listens on the same port again.
 */
export class MjpegServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly clients = new Set<ServerResponse>();
  private timer?: NodeJS.Timeout;
  port = 0;
  framesSent = 0;
  /** While frozen, connections stay open and nothing is sent (a hung camera). */
  frozen = false;

  constructor(private readonly jpeg: Uint8Array, private readonly fps = 10) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/stream.mjpg`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame', 'Cache-Control': 'no-cache', Connection: 'close' });
      this.clients.add(res);
      res.once('close', () => this.clients.delete(res));
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    this.timer = setInterval(() => {
      if (this.frozen) return;
      for (const res of this.clients) {
        res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${this.jpeg.length}\r\n\r\n`);
        res.write(this.jpeg);
        res.write('\r\n');
        this.framesSent++;
      }
    }, 1000 / this.fps);
  }

  /** Every connection reset, the port closed. */
  async cut(): Promise<void> {
    clearInterval(this.timer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
    this.clients.clear();
  }

  restore(): Promise<void> {
    return this.start();
  }

  stop(): Promise<void> {
    return this.cut();
  }
}
