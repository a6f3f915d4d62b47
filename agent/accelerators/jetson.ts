// Pure parsers of the Jetson's own version files. Each takes the file's text
// and returns null for text it does not recognise: a missing fact stays null.

/**
 * L4T release from /etc/nv_tegra_release, whose first line reads
 * `# R36 (release), REVISION: 4.3, GCID: …`: release 36, revision 4.3 → '36.4.3'.
 */
export function parseL4tRelease(text: string): string | null {
  const m = /^#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)(?:\.(\d+))?/m.exec(text);
  return m ? `${m[1]}.${m[2]}.${m[3] ?? '0'}` : null;
}

/** CUDA toolkit version from version.json (`"cuda": {"name": "CUDA SDK", "version": "12.6.1"}`, CUDA ≥ 11.1). */
export function parseCudaVersionJson(text: string): string | null {
  // A regex, not JSON.parse: the entry is all we need, and a file cut short still names it.
  const m = /"cuda"\s*:\s*\{[^}]*?"version"\s*:\s*"(\d+(?:\.\d+)*)"/.exec(text);
  return m ? m[1] : null;
}

/** CUDA toolkit version from version.txt (`CUDA Version 10.2.89`, CUDA ≤ 11.0). */
export function parseCudaVersionTxt(text: string): string | null {
  const m = /^CUDA Version (\d+(?:\.\d+)*)/m.exec(text);
  return m ? m[1] : null;
}

/** TensorRT version from NvInferVersion.h: NV_TENSORRT_MAJOR.MINOR.PATCH. */
export function parseNvInferVersionHeader(text: string): string | null {
  const part = (name: string) => new RegExp(`^#define\\s+NV_TENSORRT_${name}\\s+(\\d+)`, 'm').exec(text)?.[1];
  const [major, minor, patch] = [part('MAJOR'), part('MINOR'), part('PATCH')];
  return major === undefined || minor === undefined ? null : [major, minor, patch].filter((x) => x !== undefined).join('.');
}

/**
 * The most specific version a library's file names give (`libnvinfer.so.8.5.2`
 * beats `libnvinfer.so.8`): the fallback where no header or version file is
 * installed (a JetPack runtime image has the libraries only).
 */
export function versionFromLibraryNames(names: readonly string[], library: string): string | null {
  const prefix = `${library}.so.`;
  let best: string | null = null;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const version = name.slice(prefix.length);
    if (!/^\d+(\.\d+)*$/.test(version)) continue;
    if (best === null || version.split('.').length > best.split('.').length) best = version;
  }
  return best;
}
