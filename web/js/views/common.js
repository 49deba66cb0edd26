// views/common.js owns the pieces several views share: filter forms that write the hash, CSV download buttons, the overlaps table and a table for evidence rows of any indicator.

import { downloadCsv } from '../api.js';
import { h, table, hashLink, agencyLinks, band } from '../dom.js';
import * as fmt from '../format.js';
import { go, showError } from '../router.js';

// A filter form whose submit writes the filters into the hash (and so into the history); folded on small screens unless a filter is set.
export function filterForm(path, fields, extra) {
	const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filters' },
		fields, h('div', { class: 'field actions' },
			h('button', { type: 'submit', class: 'primary' }, 'Apply'),
			h('a', { href: '#' + path, class: 'button quiet' }, 'Clear')), extra || null);
	form.addEventListener('submit', (e) => {
		e.preventDefault();
		const values = {};
		for (const [k, v] of new FormData(form).entries())
			values[k] = String(v).trim();
		go(hashLink(path, values));
	});
	let active = 0;
	for (const el of form.elements) {
		if (el.name && el.name !== 'sort' && el.value)
			active += 1;
	}
	return h('details', { class: 'filter-box', open: active > 0 || window.innerWidth > 700 },
		h('summary', null, 'Filters' + (active ? ' (' + active + ' set)' : '')), form);
}

// A button that downloads the list's current filters as CSV.
export function csvButton(path, filename) {
	const b = h('button', { type: 'button', class: 'quiet' }, 'Download CSV');
	b.addEventListener('click', async () => {
		b.disabled = true;
		try {
			await downloadCsv(path, filename);
		} catch (e) {
			showError('The CSV could not be downloaded: ' + e.message);
		} finally {
			b.disabled = false;
		}
	});
	return b;
}

// The overlaps (or duplicates) table: the summary links to the evidence.
export function overlapTable(items, { id, caption, empty, saving = true }) {
	return table({
		id, caption, empty,
		rows: items,
		columns: [
			{ label: 'Overlap', value: (o) => h('a', { href: '#/overlaps/' + o.id, class: 'cell-link' }, o.summary || (o.evidence && o.evidence.summary) || o.subject || 'Overlap ' + o.id) },
			{ label: 'Kind', value: (o) => fmt.kind(o.kind || o.code) },
			{ label: 'Agencies', value: (o) => agencyLinks(o.agencies) },
			{ label: 'Amount', num: true, value: (o) => fmt.money(o.amount, o.currency) },
			saving && { label: 'Potential saving', num: true, value: (o) => o.saving === null || o.saving === undefined
				? h('span', { class: 'muted', title: 'A split is about thresholds, not double spending' }, 'n/a')
				: fmt.money(o.saving, o.currency) },
			!saving && { label: 'Band', value: (o) => band(o.band) },
		].filter(Boolean),
	});
}


function suppliers(list) {
	if (!list)
		return null;
	if (!Array.isArray(list))
		return String(list);
	return list.map((x) => typeof x === 'string' ? x : (x.name || x.id)).join(', ');
}

// The columns an evidence row may have, in reading order, with how each shows.
const EVIDENCE = [
	['agency', 'Agency', (r) => agencyLinks([r.agency])],
	['external_id', 'Project', (r) => r.agency
		? h('a', { href: '#/projects/' + encodeURIComponent(r.agency) + '/' + encodeURIComponent(r.external_id) }, r.external_id)
		: r.external_id],
	['title', 'Title', (r) => r.title],
	['date', 'Date', (r) => fmt.date(r.date)],
	['ocid', 'Process (OCID)', (r) => h('span', { class: 'code' }, r.ocid)],
	['supplier', 'Supplier', (r) => suppliers(r.supplier)],
	['suppliers', 'Suppliers', (r) => suppliers(r.suppliers)],
	['classification', 'Classification', (r) => r.classification],
	['method', 'Method', (r) => fmt.words(r.method)],
	['status', 'Status', (r) => fmt.words(r.status)],
	['review_status', 'Review', (r) => fmt.words(r.review_status)],
	['missing', 'Missing', (r) => (r.missing || []).map(fmt.words).join(', ')],
	['fiscal_year', 'Year', (r) => String(r.fiscal_year)],
	['program', 'Program', (r) => r.program],
	['phase', 'Phase', (r) => fmt.words(r.phase)],
	['planned_cost', 'Planned cost', (r) => fmt.money(r.planned_cost, r.currency), true],
	['amount', 'Amount', (r) => fmt.money(r.amount, r.currency), true],
	['accrued', 'Accrued', (r) => fmt.money(r.accrued, r.currency), true],
	['execution', 'Executed', (r) => fmt.percent(r.execution), true],
];

// Any indicator's evidence rows as a table of the columns they have.
export function evidenceTable(rows, { id, caption, empty } = {}) {
	rows = rows || [];
	const columns = EVIDENCE.filter(([key]) => rows.some((r) => r[key] !== undefined && r[key] !== null))
		.map(([key, label, value, num]) => ({ label, value, num: !!num }));
	if (columns.length === 0)
		columns.push({ label: 'Row', value: (r) => JSON.stringify(r) });
	return table({ id, caption: caption || 'Evidence', rows, columns, empty: empty || 'No evidence rows.' });
}
