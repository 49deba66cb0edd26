// views/agencies.js owns the agencies list (GET /v1/agencies) and one agency's scorecard (GET /v1/agencies/CODE/scorecard): coordination index and its parts, vendor concentration, budget execution over the year.

import { api, query as qs } from '../api.js';
import { h, section, table, figures, heading, band, field, pager, hashLink, facts } from '../dom.js';
import * as fmt from '../format.js';
import { hbars, columns, lines, chartWidth } from '../charts.js';
import { filterForm, csvButton, overlapTable } from './common.js';

const BANDS = ['low', 'medium', 'high', 'none'];

export async function agenciesView({ query }) {
	const params = { q: query.q, parent: query.parent, after: query.after, limit: 50 };
	const page = await api('/v1/agencies' + qs(params));
	const cur = 'CLP';
	return h('div', null,
		heading('Agencies', 'Every agency with its ICT projects, budget, spending, coordination index and open alerts.'),
		filterForm('/agencies', [
			field({ name: 'q', label: 'Code or name contains', value: query.q, kind: 'search' }),
			field({ name: 'parent', label: 'Ministry (parent code)', value: query.parent, placeholder: 'e.g. 08' }),
		]),
		h('div', { class: 'list-tools' }, h('p', { class: 'muted' }, page.items.length + ' shown' + (query.after ? ' (a later page)' : '')), csvButton('/v1/agencies' + qs({ q: query.q, parent: query.parent }), 'ictmon-agencies.csv')),
		table({
			id: 'agencies', caption: 'Agencies' + (query.q ? ' matching “' + query.q + '”' : ''),
			rows: page.items, empty: 'No agency matches these filters.',
			columns: [
				{ label: 'Code', head: true, value: (a) => h('a', { href: '#/agencies/' + encodeURIComponent(a.code), class: 'nowrap' }, a.code) },
				{ label: 'Name', value: (a) => a.name },
				{ label: 'Projects', num: true, value: (a) => fmt.count(a.projects) },
				{ label: 'Planned cost', num: true, value: (a) => fmt.money(a.planned_cost, cur) },
				{ label: 'ICT budget', num: true, value: (a) => fmt.money(a.ict_budget, cur) },
				{ label: 'ICT spend', num: true, value: (a) => fmt.money(a.ict_spend, cur) },
				{ label: 'Coordination', num: true, value: (a) => a.coordination
					? h('span', null, fmt.fixed(a.coordination.value, 1), ' ', band(a.coordination.band)) : '—' },
				{ label: 'Open alerts', num: true, value: (a) => a.open_alerts
					? h('a', { href: hashLink('/alerts', { agency: a.code, state: 'firing' }) }, fmt.count(a.open_alerts)) : '0' },
			],
		}),
		pager('/agencies', query, page.next));
}

const PARTS = [
	['reviewed', 'Reviewed by the digital government unit'],
	['framework', 'Bought through framework agreements'],
	['reuse', 'Reusing shared platforms'],
	['freshness', 'Data delivered recently'],
	['completeness', 'Project records complete'],
];

function coordination(sc) {
	const ci = sc.coord_index;
	if (!ci)
		return h('p', { class: 'muted' }, 'No coordination index yet: the indicators have not run for this agency.');
	const parts = (ci.evidence && ci.evidence.parts) || {};
	return [
		h('p', null, ci.evidence && ci.evidence.summary ? ci.evidence.summary : ''),
		hbars({
			title: 'Coordination index parts (0–100, higher is better)',
			summary: PARTS.map(([k, label]) => label + ' ' + fmt.fixed(parts[k], 1)).join('; ') + '.',
			rows: PARTS.map(([k, label]) => ({ label, values: [parts[k] ?? null] })),
			series: [{ name: 'Score' }], head: 'Part',
			format: (v) => fmt.fixed(v, 1), axis: 'Score (0–100)', width: chartWidth(true),
		}),
	];
}

function vendors(sc) {
	const list = sc.vendors || (sc.conc_vendor && sc.conc_vendor.evidence && sc.conc_vendor.evidence.suppliers) || [];
	if (list.length === 0)
		return h('p', { class: 'muted' }, 'No ICT awards to measure concentration with.');
	const top = list.slice(0, 10);
	const cur = (sc.conc_vendor && sc.conc_vendor.currency) || 'CLP';
	return [
		sc.conc_vendor ? h('p', null, sc.conc_vendor.evidence.summary || '') : null,
		hbars({
			title: 'Share of ICT awards by supplier, top ' + top.length,
			summary: top.slice(0, 3).map((v) => (v.name || v.supplier || v.id) + ' ' + fmt.percent(v.share)).join('; ') + '.',
			rows: top.map((v) => ({ label: v.name || v.supplier || v.id, values: [v.share] })),
			series: [{ name: 'Share of the money (%)', color: 4 }], head: 'Supplier',
			format: (v) => fmt.percent(v), axis: 'Share (%)', width: chartWidth(true),
		}),
		table({
			caption: 'Amounts awarded to the largest suppliers', rows: top,
			columns: [
				{ label: 'Supplier', head: true, value: (v) => v.name || v.supplier || v.id },
				{ label: 'Amount', num: true, value: (v) => fmt.money(v.amount, cur) },
				{ label: 'Share', num: true, value: (v) => fmt.percent(v.share) },
			],
		}),
	];
}

// Running totals of a month series, exact (decimal strings).
function running(values) {
	const out = [];
	values.forEach((v, i) => out.push(fmt.sumDecimals(values.slice(0, i + 1))));
	return out;
}

function execution(sc) {
	const out = [];
	const ex = sc.execution || [];
	if (ex.length > 0) {
		const budget = running(ex.map((m) => m.budget));
		const spent = running(ex.map((m) => m.spent));
		const hasAwarded = ex.some((m) => m.awarded !== undefined);
		const awarded = hasAwarded ? running(ex.map((m) => m.awarded || '0')) : null;
		const last = ex.length - 1;
		const series = [{ name: 'Budget, cumulative', values: budget },
			{ name: 'Spent (accrued), cumulative', values: spent, color: 1 }];
		if (awarded)
			series.push({ name: 'ICT awards, cumulative', values: awarded, color: 2 });
		out.push(lines({
			title: 'Budget execution over the year, cumulative (CLP)',
			summary: 'By ' + fmt.month(ex[last].month) + ', ' + fmt.money(spent[last], 'CLP') + ' spent against ' +
				fmt.money(budget[last], 'CLP') + ' budgeted to date' + (awarded ? ', and ' + fmt.money(awarded[last], 'CLP') + ' awarded' : '') + '.',
			labels: ex.map((m) => fmt.month(m.month)), series,
			yAxis: 'CLP', xAxis: 'Month', tableHead: 'Month', format: (v) => fmt.money(v, 'CLP'),
		}));
		out.push(h('details', { class: 'as-table' }, h('summary', null, 'Month by month'),
			table({
				caption: 'Budget, spending and awards in each month', rows: ex,
				columns: [
					{ label: 'Month', head: true, value: (m) => fmt.month(m.month) },
					{ label: 'Budget', num: true, value: (m) => fmt.money(m.budget, 'CLP') },
					{ label: 'Spent', num: true, value: (m) => fmt.money(m.spent, 'CLP') },
					hasAwarded ? { label: 'ICT awards', num: true, value: (m) => fmt.money(m.awarded, 'CLP') } : null,
				].filter(Boolean),
			})));
	}
	for (const r of sc.budget_exec || []) {
		const e = r.evidence || {};
		out.push(h('p', null, band(r.band), ' ', e.summary || r.subject));
	}
	if (out.length === 0)
		out.push(h('p', { class: 'muted' }, 'No ICT budget lines for this agency this year.'));
	return out;
}

export async function scorecardView({ params }) {
	const code = params.code;
	const sc = await api('/v1/agencies/' + encodeURIComponent(code) + '/scorecard');
	const name = sc.agency ? sc.agency.name : code;
	const proj = sc.projects || { cv: {}, sv: {} };
	const ov = sc.overlaps || { total: 0, by_kind: {}, items: [] };
	const nproj = BANDS.reduce((n, b) => n + (proj.cv[b] || 0), 0);
	const exec = (sc.budget_exec || [])[0];
	const indicators = Object.entries(sc.indicators || {}).sort((a, b) => a[0].localeCompare(b[0]));
	return h('div', null,
		heading(name, code + ' · scorecard computed ' + fmt.time(sc.computed_at)),
		h('p', { class: 'links' }, h('a', { href: hashLink('/projects', { agency: code }) }, 'Its projects'), ' · ',
			h('a', { href: hashLink('/alerts', { agency: code }) }, 'Its alerts'), ' · ',
			h('a', { href: hashLink('/overlaps', { agency: code }) }, 'Its overlaps')),
		figures([
			{ label: 'Coordination index', value: sc.coord_index ? fmt.fixed(sc.coord_index.value, 1) : '—',
				note: sc.coord_index ? band(sc.coord_index.band) : null },
			{ label: 'Vendor concentration (HHI)', value: sc.conc_vendor ? fmt.fixed(sc.conc_vendor.value, 0) : '—',
				note: sc.conc_vendor ? band(sc.conc_vendor.band) : null },
			{ label: 'Budget executed', value: exec && exec.evidence ? fmt.percent(exec.evidence.execution) : '—',
				note: exec ? band(exec.band) : null },
			{ label: 'Projects', value: fmt.count(nproj) },
			{ label: 'Overlaps', value: fmt.count(ov.total) },
		]),
		h('div', { class: 'grid two' },
			section('Coordination index', { class: 'card' }, coordination(sc)),
			section('Vendor concentration', { class: 'card' }, vendors(sc))),
		section('Budget execution', { class: 'card' }, execution(sc)),
		h('div', { class: 'grid two' },
			section('Projects by variance band', { class: 'card' },
				columns({
					title: 'Projects by cost and schedule band',
					summary: 'Cost: ' + BANDS.map((b) => (proj.cv[b] || 0) + ' ' + b).join(', ') +
						'. Schedule: ' + BANDS.map((b) => (proj.sv[b] || 0) + ' ' + b).join(', ') + '.',
					categories: BANDS.map(fmt.words),
					series: [{ name: 'Cost variance', values: BANDS.map((b) => proj.cv[b] || 0) },
						{ name: 'Schedule variance', values: BANDS.map((b) => proj.sv[b] || 0), color: 3 }],
					yAxis: 'Projects', xAxis: 'Band',
					links: [BANDS.map((b) => hashLink('/projects', { agency: code, cost_band: b })),
						BANDS.map((b) => hashLink('/projects', { agency: code, schedule_band: b }))],
				})),
			section('Indicators involving ' + code, { class: 'card' },
				table({
					caption: 'Results by band', rows: indicators, empty: 'No indicator results.',
					columns: [{ label: 'Indicator', head: true, value: ([c]) => c }]
						.concat(BANDS.map((b) => ({ label: fmt.words(b), num: true, value: ([, v]) => fmt.count(v[b] || 0) }))),
				}))),
		section('Overlaps involving ' + code, { class: 'card' },
			facts([['Duplicate projects', fmt.count(ov.by_kind.duplicates || 0)], ['Spending overlaps', fmt.count(ov.by_kind.spend || 0)],
				['Tender overlaps', fmt.count(ov.by_kind.tender || 0)], ['Split purchases', fmt.count(ov.by_kind.split || 0)]]),
			overlapTable(ov.items || [], { caption: 'The largest overlaps involving ' + code, empty: 'No overlaps involve this agency.', saving: false })));
}
