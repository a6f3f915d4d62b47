// Text from outside (a native library's error, a user's file, a request's
// field) as one printable line, for the one-line errors every boundary gives.
// A first probe of issue #20 had onnxruntime's three-line message, newlines
// and all, in `profile --json`'s error, and a rollout spec of random bytes
// echoed raw to the terminal.

/** Characters that are not printable: C0 and C1 controls, DEL, bidirectional overrides and isolates (they reorder what follows on a terminal), lone surrogates. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const escape = (c: string): string => {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * One printable line of at most `max` characters: line breaks and runs of
 * white space become one space, what cannot be printed is written as \xNN or
 * \uNNNN, and a longer text is cut with '…'.
 */
export function oneLine(text: string, max = 500): string {
  const line = text.replace(/\s+/g, ' ').trim().replace(UNPRINTABLE, escape);
  if (line.length <= max) return line;
  // never cut a surrogate pair in two
  let cut = max - 1;
  if (/[\ud800-\udbff]/.test(line[cut - 1] ?? '')) cut--;
  return `${line.slice(0, cut)}…`;
}
