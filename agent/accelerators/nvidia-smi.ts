// Pure parser of plain `nvidia-smi` output: the banner names the driver and
// the CUDA version it supports, each GPU row its name and total memory.

export interface NvidiaSmiGpu {
  /** As the table prints it: long names are cut with '...' by nvidia-smi itself. */
  name: string;
  memoryMb: number | null;
}

export interface NvidiaSmi {
  driverVersion: string | null;
  /** The newest CUDA the driver supports (nvidia-smi's 'CUDA Version'), not an installed toolkit. */
  cudaVersion: string | null;
  gpus: NvidiaSmiGpu[];
}

/**
 * Reads the banner (`Driver Version: 535.161.08   CUDA Version: 12.2`, or from
 * R610 on `KMD Version: … CUDA UMD Version: 13.3`) and the GPU rows: a row
 * `|   0  NVIDIA H100 80GB HBM3   On  | …` names the GPU, the row under it
 * holds `0MiB / 81559MiB`. Null when the text is no nvidia-smi table.
 */
export function parseNvidiaSmi(text: string): NvidiaSmi | null {
  const driver = /(?:Driver|KMD) Version:\s*([\d.]+)/.exec(text)?.[1] ?? null;
  const cuda = /CUDA (?:UMD )?Version:\s*([\d.]+)/.exec(text)?.[1] ?? null;
  if (driver === null && !text.includes('NVIDIA-SMI')) return null;
  const gpus: NvidiaSmiGpu[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    // first cell: index, name, persistence mode (On/Off); then the bus id cell
    const row = /^\|\s+(\d+)\s+(.+?)\s+(?:On|Off)\s+\|\s*[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d/.exec(lines[i]);
    if (!row) continue;
    const memory = /\d+MiB\s*\/\s*(\d+)MiB/.exec(lines[i + 1] ?? '');
    gpus.push({ name: row[2].trim(), memoryMb: memory ? Number(memory[1]) : null });
  }
  return { driverVersion: driver, cudaVersion: cuda, gpus };
}
