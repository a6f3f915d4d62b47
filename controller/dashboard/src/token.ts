// The admin token arrives once in the URL fragment (#token=… as `edgefit up`
// prints it; fragments never reach the server or its logs), then lives in
// sessionStorage for this tab only and leaves the address bar.

const KEY = 'edgefit.adminToken';

export function adoptTokenFromHash(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
  history.replaceState(null, '', location.pathname + location.search + '#/');
}

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(value: string): void {
  sessionStorage.setItem(KEY, value.trim());
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}
