// api.js owns talking to ictmond: the token kept in sessionStorage, fetch with it, and every failure turned into an ApiError with a message a reader can act on.

const KEY = 'ictmon.token';

export class ApiError extends Error {
	constructor(status, code, message, path) {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.code = code;
		this.path = path;
	}
}

let unauthorized = null;

// What to do when any call answers 401 (the app sends the reader to #/login).
export function onUnauthorized(fn) {
	unauthorized = fn;
}

export function token() {
	try {
		return sessionStorage.getItem(KEY);
	} catch {
		return null;
	}
}

export function setToken(value) {
	try {
		sessionStorage.setItem(KEY, value);
	} catch {
		// Storage refused (private mode with quota 0): the session lasts this page only.
	}
}

export function clearToken() {
	try {
		sessionStorage.removeItem(KEY);
	} catch {
		// Nothing stored, nothing to clear.
	}
}

function describe(status, body, path) {
	const err = body && body.error;
	let message = err && err.message ? err.message : 'HTTP ' + status;
	if (err && Array.isArray(err.details) && err.details.length > 0) {
		message += ': ' + err.details.slice(0, 3).map((d) =>
			(d.pointer ? d.pointer + ' ' : '') + (d.message || '')).join('; ');
	}
	const route = path.split('?')[0];
	if (status === 403)
		return 'Your token may not read this (' + route + '): ' + message;
	if (status === 404)
		return 'Not found: ' + message;
	if (status === 503)
		return 'The service is not available right now (' + message + '); try again shortly.';
	if (status === 429)
		return 'Too many requests; wait a moment and try again.';
	return message;
}

/*
 * One call: GET unless `method`; `body` goes out as JSON; `accept: 'text/csv'` returns
 * {text, next}: the page and the path of the next one (its Link header) or null. A 401
 * calls the unauthorized handler unless `quiet401`.
 */
export async function api(path, { method, body, accept, quiet401 } = {}) {
	const headers = { Accept: accept || 'application/json' };
	const t = token();
	if (t)
		headers.Authorization = 'Bearer ' + t;
	const init = { method: method || 'GET', headers, cache: 'no-store' };
	if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	let res;
	try {
		res = await fetch(path, init);
	} catch (e) {
		throw new ApiError(0, 'network', 'The server did not answer (' + e.message + ').', path);
	}
	if (res.ok && accept && accept !== 'application/json') {
		const link = /<([^>]*)>\s*;\s*rel="next"/.exec(res.headers.get('Link') || '');
		return { text: await res.text(), next: link ? link[1] : null };
	}
	let data = null;
	if (res.status !== 204) {
		const text = await res.text();
		try {
			data = text ? JSON.parse(text) : null;
		} catch {
			data = null;
		}
	}
	if (!res.ok) {
		const err = new ApiError(res.status, data && data.error ? data.error.code : 'error',
			describe(res.status, data, path), path);
		if (res.status === 401 && !quiet401 && unauthorized)
			unauthorized(err);
		throw err;
	}
	return data;
}

// A query string from an object, empty values left out: {a: 1, b: ''} → "?a=1".
export function query(params) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params || {})) {
		if (v !== null && v !== undefined && v !== '')
			q.set(k, v);
	}
	const text = q.toString();
	return text ? '?' + text : '';
}

// Downloads a whole list as one CSV file, page after page (the API wants the token, so a
// plain link cannot); every page repeats the header row, kept once.
export async function downloadCsv(path, filename) {
	const parts = [];
	let header = null;
	for (let next = path; next !== null;) {
		const page = await api(next, { accept: 'text/csv' });
		const cut = page.text.indexOf('\r\n') + 2;
		if (header === null) {
			header = page.text.slice(0, cut);
			parts.push(page.text);
		} else if (page.text.slice(0, cut) === header) {
			parts.push(page.text.slice(cut));
		} else {
			parts.push(page.text);
		}
		next = page.next;
	}
	const url = URL.createObjectURL(new Blob(parts, { type: 'text/csv' }));
	const a = document.createElement('a');
	a.href = url;
	a.download = filename;
	document.body.appendChild(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(url), 10000);
}
