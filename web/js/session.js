// session.js owns who is signed in: GET /v1/session for the token kept by api.js, the header that shows it, and the message the login page shows next.

import { api, token, setToken, clearToken } from './api.js';

let current = null;
let pending = null;
let flash = null;

function showWho(who) {
	const box = document.getElementById('who');
	const nav = document.getElementById('nav');
	const whoami = document.getElementById('whoami');
	if (!box || !nav || !whoami)
		return;
	box.hidden = !who;
	nav.hidden = !who;
	if (!who) {
		whoami.textContent = '';
		return;
	}
	if (who.role === 'agency') {
		whoami.textContent = 'Agency view: ' + (who.agency || '') +
			(who.agency_name ? ' ' + who.agency_name : '');
	} else {
		whoami.textContent = 'Signed in as ' + (who.role || 'unknown role') +
			(who.name ? ' (' + who.name + ')' : '');
	}
}

function fetchSession(quiet401) {
	return api('/v1/session', { quiet401 });
}

// The signed-in session, fetched once per page load; null without a token.
export function session() {
	if (!token())
		return Promise.resolve(null);
	if (current)
		return Promise.resolve(current);
	if (!pending) {
		pending = fetchSession(false).then((who) => {
			current = who;
			showWho(who);
			return who;
		}).finally(() => { pending = null; });
	}
	return pending;
}

// The session already known (views that render after the guard), or null.
export function known() {
	return current;
}

// Whether the reader may see the analysts' actions (ack, silence, feeds, emails).
export function isAnalyst() {
	return !!current && current.role !== 'agency';
}

// Tries a token: keeps it and returns the session when the server takes it, else throws.
export async function signIn(value) {
	setToken(value);
	current = null;
	try {
		const who = await fetchSession(true);
		current = who;
		showWho(who);
		return who;
	} catch (e) {
		clearToken();
		showWho(null);
		throw e;
	}
}

// Forgets the token; `message` is what the login page says next (`problem`: in the error box).
export function signOut(message, problem) {
	clearToken();
	current = null;
	flash = message ? { message, problem: !!problem } : null;
	showWho(null);
}

// The message for the login page (why the reader is there), once: {message, problem} or null.
export function takeFlash() {
	const m = flash;
	flash = null;
	return m;
}
