// views/overlaps.js owns the overlaps list (GET /v1/overlaps) and one overlap's evidence (GET /v1/overlaps/ID): who bought what, when, from whom and for how much, the similar projects as a cluster, the saving and its alerts.

import { api, query as qs } from '../api.js';
import { h, section, table, figures, heading, band, field, pager, agencyLinks, facts } from '../dom.js';
import * as fmt from '../format.js';
import { hbars, cluster, chartWidth } from '../charts.js';
import { filterForm, csvButton, overlapTable } from './common.js';

const KINDS = [['', 'Any'], ['duplicates', 'Duplicate projects'], ['spend', 'Spending overlaps'],
	['tender', 'Tender overlaps'], ['split', 'Split purchases']];
const BANDS = [['', 'Any'], ['high', 'High'], ['medium', 'Medium'], ['low', 'Low']];

export async function overlapsView({ query }) {
	const filters = { kind: query.kind, band: query.band, agency: query.agency };
	const page = await api('/v1/overlaps' + qs(Object.assign({}, filters, { after: query.after, limit: 50 })));
	return h('div', null,
		heading('Overlaps', 'Duplicate projects, agencies buying the same things separately, and purchases split under the tender threshold; the largest first.'),
		filterForm('/overlaps', [
			field({ name: 'kind', label: 'Kind', kind: 'select', value: query.kind, options: KINDS }),
			field({ name: 'band', label: 'Band', kind: 'select', value: query.band, options: BANDS }),
			field({ name: 'agency', label: 'Agency code', value: query.agency, placeholder: 'e.g. 08-04' }),
		]),
		h('div', { class: 'list-tools' }, h('p', { class: 'muted' }, page.items.length + ' shown'),
			csvButton('/v1/overlaps' + qs(filters), 'ictmon-overlaps.csv')),
		overlapTable(page.items, { id: 'overlaps', caption: 'Overlaps, the largest amount first', saving: false,
			empty: 'No overlap matches these filters.' }),
		pager('/overlaps', query, page.next));
}

// The readable evidence rows: the overlap's projects, awards and tenders.
function evidenceRows(o) {
	return [].concat(o.rows.projects, o.rows.awards, o.rows.tenders);
}

function isAward(r) {
	return r.ocid !== undefined || r.award_id !== undefined;
}

function awardsTable(rows) {
	return table({
		id: 'evidence', caption: 'The purchases behind this overlap', rows,
		columns: [
			{ label: 'Buyer', head: true, value: (r) => h('span', null, agencyLinks([r.buyer || r.agency]),
				r.buyer_name ? h('span', { class: 'sub-line' }, r.buyer_name) : null) },
			{ label: 'Date', value: (r) => fmt.date(r.date) },
			{ label: 'What', value: (r) => h('span', null, r.title || '—',
				r.classification ? h('span', { class: 'sub-line code' }, (/^\d+$/.test(r.classification) ? 'UNSPSC ' : '') + r.classification) : null) },
			{ label: 'Supplier', value: (r) => (r.suppliers || (r.supplier ? [r.supplier] : []))
				.map((x) => typeof x === 'string' ? x : (x.name || x.id)).join(', ') || '—' },
			{ label: 'Method', value: (r) => fmt.words(r.method) },
			{ label: 'Amount', num: true, value: (r) => fmt.money(r.amount, r.currency) },
			{ label: 'Process', value: (r) => h('span', { class: 'code' }, r.ocid) },
		],
	});
}

function projectsTable(rows) {
	return table({
		id: 'evidence', caption: 'The similar projects', rows,
		columns: [
			{ label: 'Agency', head: true, value: (r) => h('span', null, agencyLinks([r.agency]),
				r.agency_name ? h('span', { class: 'sub-line' }, r.agency_name) : null) },
			{ label: 'Project', value: (r) => h('span', null,
				h('a', { href: '#/projects/' + encodeURIComponent(r.agency) + '/' + encodeURIComponent(r.id || r.external_id), class: 'cell-link' }, r.title),
				h('span', { class: 'sub-line code' }, r.id || r.external_id)) },
			{ label: 'Status', value: (r) => fmt.words(r.status) },
			{ label: 'Planned', value: (r) => fmt.date(r.planned_start) + ' – ' + fmt.date(r.planned_end) },
			{ label: 'Planned cost', num: true, value: (r) => fmt.money(r.planned_cost, r.currency) },
			{ label: 'Similarity', num: true, value: (r) => r.similarity === null || r.similarity === undefined ? '—' : fmt.fixed(r.similarity, 2) },
		],
	});
}

function projectCluster(o, rows) {
	const nodes = rows.map((r) => ({ key: r.agency + '/' + (r.id || r.external_id), label: r.title,
		group: r.agency, groupName: r.agency_name }));
	const pairs = (o.evidence && o.evidence.pairs) || [];
	const edges = pairs.map((p) => ({ a: p.a, b: p.b, weight: p.similarity }));
	return cluster({
		title: 'Similar projects, coloured by agency',
		summary: nodes.length + ' projects in ' + new Set(nodes.map((n) => n.group)).size + ' agencies; ' +
			edges.length + ' similar pairs, the closest ' + (edges[0] ? fmt.fixed(edges[0].weight, 2) : '—') +
			' (1 is identical). Thicker lines are more similar.',
		nodes, edges,
	});
}

function moneyByBuyer(rows, currency) {
	const by = new Map();
	for (const r of rows) {
		const k = r.buyer || r.agency || '?';
		if (!by.has(k))
			by.set(k, { name: r.buyer_name || '', amounts: [] });
		by.get(k).amounts.push(r.amount);
	}
	const list = [...by.entries()].map(([code, v]) => ({ label: code + ' ' + v.name, href: '#/agencies/' + encodeURIComponent(code),
		values: [fmt.sumDecimals(v.amounts)] }))
		.sort((a, b) => (fmt.toNumber(b.values[0]) || 0) - (fmt.toNumber(a.values[0]) || 0));
	if (list.length < 2)
		return null;
	return hbars({
		title: 'Money by buyer',
		summary: list.map((x) => x.label + ' ' + fmt.money(x.values[0], currency)).join('; ') + '.',
		rows: list, head: 'Buyer', series: [{ name: 'Amount awarded' }],
		format: (v, short) => short ? fmt.moneyShort(v) : fmt.money(v, currency),
		axis: 'Amount (' + (currency || 'as awarded') + ')', width: chartWidth(false),
	});
}

export async function overlapView({ params }) {
	const o = await api('/v1/overlaps/' + encodeURIComponent(params.id));
	const rows = evidenceRows(o);
	const awards = rows.filter(isAward);
	const projects = rows.filter((r) => !isAward(r));
	const summary = o.summary || (o.evidence && o.evidence.summary) || o.subject;
	const ev = o.evidence || {};
	const dup = o.kind === 'duplicates' || o.code === 'DUP-PROJECT';
	const alerts = o.alerts || [];
	const shown = ev.rows_total && ev.rows_total > rows.length
		? h('p', { class: 'muted' }, 'The evidence keeps the first ' + rows.length + ' of ' + fmt.count(ev.rows_total) + ' rows.') : null;
	return h('div', null,
		heading(fmt.kind(o.kind || o.code), summary),
		figures([
			{ label: dup ? 'Planned cost together' : 'Amount', value: fmt.moneyShort(o.amount, o.currency), note: fmt.money(o.amount, o.currency) },
			{ label: 'Potential saving', value: o.saving === null || o.saving === undefined ? 'n/a' : fmt.moneyShort(o.saving, o.currency),
				note: o.saving === null || o.saving === undefined ? (o.kind === 'split' ? 'A split is about thresholds' : null) : fmt.money(o.saving, o.currency) },
			{ label: 'Agencies', value: fmt.count((o.agencies || []).length), note: agencyLinks(o.agencies) },
			{ label: dup ? 'Highest similarity' : 'Band', value: dup ? fmt.fixed(o.value, 2) : fmt.words(o.band), note: dup ? band(o.band) : null },
		]),
		section('Evidence', { class: 'card', id: 'overlap-evidence' },
			facts([
				['Classification', ev.class || null],
				['Window', ev.first_date ? fmt.date(ev.first_date) + ' – ' + fmt.date(ev.last_date) : null],
				['Tender threshold', ev.threshold ? fmt.money(ev.threshold, o.currency) : null],
				['Computed', fmt.time(o.computed_at)],
			]),
			dup && projects.length > 0 ? projectCluster(o, projects) : moneyByBuyer(awards, o.currency),
			awards.length >= projects.length ? awardsTable(rows) : projectsTable(rows),
			shown),
		section('Its alerts', { class: 'card', id: 'overlap-alerts' },
			table({
				caption: 'Alerts raised for this overlap', rows: alerts, empty: 'No alert was raised for it.',
				columns: [
					{ label: 'Alert', head: true, value: (a) => h('a', { href: '#/alerts/' + a.id }, '#' + a.id + ' ' + a.rule) },
					{ label: 'Severity', value: (a) => band(a.severity) },
					{ label: 'State', value: (a) => fmt.words(a.state) },
					{ label: 'Acknowledged', value: (a) => a.acked ? 'yes' : 'no' },
				],
			})));
}
