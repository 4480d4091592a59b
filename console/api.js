// The console's one way to the server: same-origin fetches carried by the session cookie, the
// CSRF token (held in memory only, never in storage) on every change, errors as thrown ApiError.

let csrf = null;

/** An answer outside 2xx, with the server's error shape. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Remembers the session's CSRF token for later changes. */
export function setCsrf(token) {
  csrf = token;
}

/** Calls `path` with `method` and an optional JSON `body`; resolves to parsed JSON (or null). */
export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (response.status === 204) return null;
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = (json && json.error) || {};
    throw new ApiError(response.status, error.code || "error", error.message || response.statusText);
  }
  return json;
}

/** Signs in with a caller key; the key goes to the server once and is not kept. */
export async function signIn(key) {
  const session = await call("POST", "/console/session", { key });
  setCsrf(session.csrf_token);
  return session;
}

/** The current session, or null when signed out or expired. */
export async function currentSession() {
  try {
    const session = await call("GET", "/console/session");
    setCsrf(session.csrf_token);
    return session;
  } catch (error) {
    if (error.status === 401) return null;
    throw error;
  }
}

/** Ends the session on the server. */
export async function signOut() {
  await call("DELETE", "/console/session");
  setCsrf(null);
}

/** A query string from the non-empty entries of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") q.set(name, value);
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}
