// router.js owns the hash routes: which view a location names, and a view's life in main#view (data-view, data-ready while loaded, the page title, focus, errors).

import { h } from './dom.js';

const routes = [];
let seq = 0;
let guard = null;
let rendered = false;

/*
 * A route: pattern "/agencies/:code", the view's name (main#view's data-view), and
 * load(ctx) → a Node, where ctx = {params, query, path, reload}. `open` routes skip the
 * guard (the login).
 */
export function add(pattern, name, load, { open, nav } = {}) {
	const keys = [];
	const re = new RegExp('^' + pattern.replace(/:([a-z]+)/g, (_, k) => {
		keys.push(k);
		return '([^/]+)';
	}) + '/?$');
	routes.push({ re, keys, name, load, open: !!open, nav: nav || name });
}

// What runs before a guarded view: returns a hash to go to instead, or null.
export function setGuard(fn) {
	guard = fn;
}

// A location hash as {path, query}: "#/alerts?state=firing" → {"/alerts", {state: "firing"}}.
export function parse(hash) {
	const raw = (hash || '').replace(/^#/, '') || '/';
	const at = raw.indexOf('?');
	const path = at === -1 ? raw : raw.slice(0, at);
	const query = Object.fromEntries(new URLSearchParams(at === -1 ? '' : raw.slice(at + 1)));
	return { path: path || '/', query };
}

// Goes to a hash; `replace` keeps the current entry out of the history.
export function go(hash, replace) {
	if (replace) {
		history.replaceState(null, '', hash);
		render();
	} else if (location.hash === hash) {
		render();
	} else {
		location.hash = hash;
	}
}

export function showError(message) {
	const box = document.getElementById('error');
	if (!box)
		return;
	box.replaceChildren();
	if (message)
		box.appendChild(h('p', null, message));
}

export function showStatus(message) {
	const box = document.getElementById('status');
	if (box)
		box.textContent = message || '';
}

function markNav(nav) {
	for (const a of document.querySelectorAll('nav [data-nav]')) {
		if (a.dataset.nav === nav)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
}

function errorNode(e) {
	return h('div', { class: 'view-head' }, h('h1', null, 'This page could not be shown'),
		h('p', { class: 'problem' }, e && e.message ? e.message : String(e)),
		h('p', null, h('a', { href: '#/' }, 'Back to the overview')));
}

// Renders the view the location names; a newer navigation wins over an older load.
export async function render() {
	const hash = location.hash;
	if (hash && !hash.startsWith('#/'))
		return;		// an in-page anchor (the skip link), not a route
	const { path, query } = parse(hash);
	const main = document.getElementById('view');
	const my = ++seq;
	let route = null, params = {};
	for (const r of routes) {
		const m = r.re.exec(path);
		if (m) {
			route = r;
			r.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]); });
			break;
		}
	}
	main.removeAttribute('data-ready');
	main.setAttribute('aria-busy', 'true');
	main.dataset.view = route ? route.name : 'missing';
	showError('');
	showStatus('Loading…');
	if (route && !route.open && guard) {
		let redirect = null;
		try {
			redirect = await guard(path, query);
		} catch (e) {
			redirect = null;
		}
		if (my !== seq)
			return;
		if (redirect) {
			go(redirect, true);
			return;
		}
	}
	let node, failure = null;
	try {
		node = route ? await route.load({ params, query, path, reload: render })
			: errorNode(new Error('There is no page at ' + path + '.'));
	} catch (e) {
		failure = e;
		node = errorNode(e);
	}
	if (my !== seq)
		return;
	main.replaceChildren(node);
	main.removeAttribute('aria-busy');
	markNav(route ? route.nav : null);
	const h1 = main.querySelector('h1');
	document.title = (h1 ? h1.textContent + ' · ' : '') + 'ictmon';
	if (failure)
		showError(failure.message);
	showStatus(failure ? '' : (h1 ? h1.textContent : 'Page') + ' loaded');
	main.dataset.ready = 'true';
	// Moving focus to a new view tells screen readers the page changed; not on first load.
	if (rendered && h1 && !main.contains(document.activeElement)) {
		h1.setAttribute('tabindex', '-1');
		h1.focus({ preventScroll: true });
	}
	if (rendered)
		window.scrollTo(0, 0);
	rendered = true;
}

export function start() {
	window.addEventListener('hashchange', render);
	render();
}
