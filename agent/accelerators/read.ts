// The thin edge: reads the version files under a root folder (tests point it at
// fake trees) and runs nvidia-smi through a replaceable runner. Nothing here
// throws: a file or a binary that is not there is a fact that is null.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Accelerator } from '../../protocol/messages.js';
import { readBoardIdentity } from '../sensors/device-tree.js';
import { parseCudaVersionJson, parseCudaVersionTxt, parseL4tRelease, parseNvInferVersionHeader, versionFromLibraryNames } from './jetson.js';
import { parseNvidiaSmi } from './nvidia-smi.js';

/** Runs `nvidia-smi` and gives its stdout, or null where it is absent or fails. */
export type NvidiaSmiRunner = () => Promise<string | null>;

export const runNvidiaSmi: NvidiaSmiRunner = () =>
  new Promise((resolve) => {
    // 5 s: a driver that hangs (a GPU fallen off the bus) must not hold the agent's start.
    execFile('nvidia-smi', [], { timeout: 5000, maxBuffer: 1024 * 1024 }, (err, stdout) => resolve(err ? null : stdout));
  });

export interface AcceleratorRoots {
  /** Root under which /proc, /etc, /usr are read; default '/'. */
  root?: string;
  nvidiaSmi?: NvidiaSmiRunner;
}

const LIB_DIRS = ['usr/lib/aarch64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'usr/lib/aarch64-linux-gnu/nvidia', 'usr/local/cuda/lib64', 'usr/local/cuda/targets/aarch64-linux/lib', 'usr/local/cuda/targets/x86_64-linux/lib'];
const TRT_HEADERS = ['usr/include/aarch64-linux-gnu/NvInferVersion.h', 'usr/include/x86_64-linux-gnu/NvInferVersion.h', 'usr/include/NvInferVersion.h'];

async function text(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return null;
  }
}

async function libraryNames(root: string): Promise<string[]> {
  const lists = await Promise.all(LIB_DIRS.map((d) => readdir(path.join(root, d)).catch(() => [] as string[])));
  return lists.flat();
}

async function firstParsed(files: string[], parse: (t: string) => string | null): Promise<string | null> {
  for (const file of files) {
    const t = await text(file);
    const v = t === null ? null : parse(t);
    if (v !== null) return v;
  }
  return null;
}

/** CUDA toolkit and TensorRT versions: version files first, library file names as the fallback. */
async function nvidiaStack(root: string): Promise<{ cudaVersion: string | null; tensorrtVersion: string | null }> {
  const libs = await libraryNames(root);
  const cudaVersion =
    (await firstParsed([path.join(root, 'usr/local/cuda/version.json')], parseCudaVersionJson)) ??
    (await firstParsed([path.join(root, 'usr/local/cuda/version.txt')], parseCudaVersionTxt)) ??
    versionFromLibraryNames(libs, 'libcudart');
  const tensorrtVersion = (await firstParsed(TRT_HEADERS.map((h) => path.join(root, h)), parseNvInferVersionHeader)) ?? versionFromLibraryNames(libs, 'libnvinfer');
  return { cudaVersion, tensorrtVersion };
}

/**
 * The accelerators this device has: a Jetson or a Raspberry Pi from its device
 * tree, and every discrete NVIDIA GPU nvidia-smi lists. A Jetson's GPU shares
 * the board's memory and nvidia-smi says little about it, so a Jetson is one
 * accelerator with its L4T, CUDA and TensorRT versions.
 */
export async function readAccelerators(opts: AcceleratorRoots = {}): Promise<Accelerator[]> {
  const root = opts.root ?? '/';
  const board = await readBoardIdentity({ procRoot: root, sysfsRoot: root });
  const out: Accelerator[] = [];
  if (board?.family.startsWith('jetson')) {
    const l4tRelease = await firstParsed([path.join(root, 'etc/nv_tegra_release')], parseL4tRelease);
    out.push({ kind: 'jetson', model: board.model.slice(0, 255), l4tRelease, ...(await nvidiaStack(root)), driverVersion: null, memoryMb: null });
    return out;
  }
  if (board?.family.startsWith('raspberry-pi')) {
    out.push({ kind: 'raspberry-pi', model: board.model.slice(0, 255), l4tRelease: null, cudaVersion: null, tensorrtVersion: null, driverVersion: null, memoryMb: null });
  }
  const smiText = await (opts.nvidiaSmi ?? runNvidiaSmi)().catch(() => null);
  const smi = smiText === null ? null : parseNvidiaSmi(smiText);
  if (smi && smi.gpus.length > 0) {
    const { tensorrtVersion } = await nvidiaStack(root);
    for (const gpu of smi.gpus.slice(0, 16 - out.length)) {
      out.push({ kind: 'nvidia-gpu', model: gpu.name.slice(0, 255), l4tRelease: null, cudaVersion: smi.cudaVersion, tensorrtVersion, driverVersion: smi.driverVersion, memoryMb: gpu.memoryMb });
    }
  }
  return out;
}
