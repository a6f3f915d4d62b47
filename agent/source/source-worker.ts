// A decoded source in its own thread. onnxruntime-node runs inference on the
// main thread, synchronously (InferenceSession.run after a setImmediate), so a
// pipe read there stops for the whole inference: ffmpeg blocks on its 64 KiB
// pipe, the camera's frames back up in TCP buffers and come out late instead
// of being dropped. Here the pipe is read all the time and only the newest
// frame waits for the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { FfmpegSource, type FfmpegSourceOptions } from './ffmpeg-source.js';
import { SourceEndedError } from './types.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-messages.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const options: FfmpegSourceOptions = { ...init.options, onEvent: (event) => post({ type: 'event', event, stats: source.stats() }) };
const source = new FfmpegSource(init.spec, options);

// counts move while the main thread is busy: it reads the latest copy
const ticker = setInterval(() => post({ type: 'stats', stats: source.stats() }), 500);

port.on('message', (m: ToWorker) => {
  if (m.type === 'next') {
    source.next().then(
      (frame) => {
        const rgb = frame.rgb;
        post({ type: 'frame', width: frame.width, height: frame.height, rgb, letterbox: frame.letterbox, stats: source.stats() }, [rgb.buffer as ArrayBuffer]);
      },
      (err: Error) => post({ type: 'error', ended: err instanceof SourceEndedError, message: err.message, stats: source.stats() }),
    );
  } else if (m.type === 'close') {
    clearInterval(ticker);
    void source.close().then(() => post({ type: 'closed', stats: source.stats() }));
  }
});

source.start().then(
  () => post({ type: 'started', stats: source.stats() }),
  (err: Error) => post({ type: 'failed', message: err.message }),
);
