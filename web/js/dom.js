// dom.js owns building the page's elements: h() for HTML, s() for SVG, and the shared pieces views are made of (tables, sections, badges, key figures, pagers).

import * as fmt from './format.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
	for (const child of children) {
		if (child === null || child === undefined || child === false)
			continue;
		if (Array.isArray(child))
			append(el, child);
		else if (child instanceof Node)
			el.appendChild(child);
		else
			el.appendChild(document.createTextNode(String(child)));
	}
}

function build(el, attrs, children) {
	for (const [key, value] of Object.entries(attrs || {})) {
		if (value === null || value === undefined || value === false)
			continue;
		if (key.startsWith('on') && typeof value === 'function')
			el.addEventListener(key.slice(2), value);
		else if (key === 'dataset')
			Object.assign(el.dataset, value);
		else if (key === 'class')
			el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
		else if (value === true)
			el.setAttribute(key, '');
		else
			el.setAttribute(key, String(value));
	}
	append(el, children);
	return el;
}

// An HTML element: h('a', {href: '#/'}, 'Overview').
export function h(tag, attrs, ...children) {
	return build(document.createElement(tag), attrs, children);
}

// An SVG element, same calling convention.
export function s(tag, attrs, ...children) {
	return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

let uid = 0;
// An id unique on the page, for aria-labelledby and label/for pairs.
export function newId(prefix) {
	uid += 1;
	return (prefix || 'id') + '-' + uid;
}

// A section with a heading of the given level; the section is labelled by it.
export function section(title, attrs, ...children) {
	const id = newId('h');
	const level = (attrs && attrs.level) || 2;
	const rest = Object.assign({}, attrs);
	delete rest.level;
	rest['aria-labelledby'] = id;
	return h('section', rest, h('h' + level, { id }, title), ...children);
}

/*
 * A table: columns are {label, value(row) → node|text, num (right-aligned), head (row
 * header)}; an empty list says so in one cell instead.
 */
export function table({ caption, columns, rows, id, empty, captionHidden }) {
	const head = h('tr', null, columns.map((c) =>
		h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)));
	const body = h('tbody');
	if (!rows || rows.length === 0) {
		body.appendChild(h('tr', { class: 'empty' },
			h('td', { colspan: columns.length }, empty || 'Nothing to show.')));
	} else {
		for (const row of rows) {
			body.appendChild(h('tr', null, columns.map((c) => {
				const v = c.value(row);
				return h(c.head ? 'th' : 'td', { scope: c.head ? 'row' : null,
					class: c.num ? 'num' : null }, v === null || v === undefined ? '—' : v);
			})));
		}
	}
	return h('div', { class: 'table-wrap' },
		h('table', { id, class: columns.length >= 5 ? 'wide' : null },
			caption ? h('caption', { class: captionHidden ? 'visually-hidden' : null }, caption) : null,
			h('thead', null, head), body));
}

// A small label: a kind, a state, a band.
export function badge(text, kind) {
	return h('span', { class: ['badge', kind ? 'badge-' + kind : null] }, text);
}

// A band (low/medium/high/none) or severity as a badge that does not rely on colour alone.
export function band(value) {
	if (!value)
		return '—';
	return badge(fmt.words(value), String(value));
}

// Key figures: [{label, value, note}] as a definition list of tiles.
export function figures(items) {
	return h('dl', { class: 'figures' }, items.map((it) =>
		h('div', { class: 'figure' },
			h('dt', null, it.label),
			h('dd', null, h('span', { class: 'figure-value' }, it.value),
				it.note ? h('span', { class: 'figure-note' }, it.note) : null))));
}

// A definition list of facts: [[term, value], ...], null values dropped.
export function facts(pairs) {
	return h('dl', { class: 'facts' }, pairs.filter((p) => p && p[1] !== null && p[1] !== undefined)
		.map(([term, value]) => h('div', null, h('dt', null, term), h('dd', null, value))));
}

// A list of agency codes as links to their scorecards.
export function agencyLinks(codes) {
	const list = (codes || []).map((c) => typeof c === 'string' ? c : c.code);
	if (list.length === 0)
		return '—';
	const out = [];
	list.forEach((code, i) => {
		if (i > 0)
			out.push(', ');
		out.push(h('a', { href: '#/agencies/' + encodeURIComponent(code), class: 'nowrap' }, code));
	});
	return h('span', null, out);
}

// A hash link built from a path and query parameters (empty ones left out).
export function hashLink(path, query) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(query || {})) {
		if (v !== null && v !== undefined && v !== '')
			q.set(k, v);
	}
	const text = q.toString();
	return '#' + path + (text ? '?' + text : '');
}

// Page navigation for a keyset list: "First page" when not on it, "Next page" when there is one.
export function pager(path, query, next) {
	const links = [];
	if (query.after) {
		const first = Object.assign({}, query);
		delete first.after;
		links.push(h('a', { href: hashLink(path, first) }, '← First page'));
	}
	if (next) {
		links.push(h('a', { href: hashLink(path, Object.assign({}, query, { after: next })),
			rel: 'next' }, 'Next page →'));
	}
	if (links.length === 0)
		return null;
	return h('nav', { class: 'pager', 'aria-label': 'Pages' }, links);
}

// A labelled form field: kind 'select' (options [[value, label]]), else an input of that type.
export function field({ name, label, kind, value, options, placeholder, id, required, attrs }) {
	const fid = id || newId('f-' + name);
	let control;
	if (kind === 'select') {
		control = h('select', Object.assign({ id: fid, name }, attrs),
			options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, text)));
	} else if (kind === 'textarea') {
		control = h('textarea', Object.assign({ id: fid, name, rows: 3, required }, attrs), value || '');
	} else {
		control = h('input', Object.assign({ id: fid, name, type: kind || 'text',
			value: value ?? '', placeholder, required }, attrs));
	}
	return h('div', { class: 'field' }, h('label', { for: fid }, label), control);
}

// The title line of a view: an h1, an optional line under it.
export function heading(title, sub) {
	return h('div', { class: 'view-head' }, h('h1', null, title), sub ? h('p', { class: 'sub' }, sub) : null);
}
