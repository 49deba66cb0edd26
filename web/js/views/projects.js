// views/projects.js owns the projects list with its filters (GET /v1/projects) and one project (GET /v1/projects/AGENCY/ID): variance over its versions, rebaselines, awards, budget lines and duplicates.

import { api, query as qs } from '../api.js';
import { h, section, table, figures, heading, band, field, pager, facts, agencyLinks, badge } from '../dom.js';
import * as fmt from '../format.js';
import { lines, chartWidth } from '../charts.js';
import { filterForm, csvButton } from './common.js';

const BAND_OPTIONS = [['', 'Any'], ['low', 'Low'], ['medium', 'Medium'], ['high', 'High'], ['none', 'None (not measurable)']];
const STATUS = ['planned', 'in_progress', 'completed', 'cancelled', 'deferred'];
const REVIEW = ['not_submitted', 'submitted', 'approved', 'observed', 'rejected'];
const FUNDING = ['agency_budget', 'central_fund', 'loan', 'grant', 'other'];
const SORTS = [['id', 'Agency and id'], ['title', 'Title'], ['-planned_cost', 'Planned cost, largest first'],
	['planned_cost', 'Planned cost, smallest first'], ['-updated_at', 'Recently updated']];
const FILTERS = ['agency', 'status', 'category', 'cost_band', 'schedule_band', 'review_status', 'funding_source', 'q', 'sort'];

function options(list) {
	return [['', 'Any']].concat(list.map((v) => [v, fmt.words(v)]));
}

function projectHref(p) {
	return '#/projects/' + encodeURIComponent(p.agency) + '/' + encodeURIComponent(p.id);
}

export async function projectsView({ query }) {
	const filters = {};
	for (const k of FILTERS)
		filters[k] = query[k];
	const page = await api('/v1/projects' + qs(Object.assign({}, filters, { after: query.after, limit: 50 })));
	const form = filterForm('/projects', [
		field({ name: 'q', label: 'Search', kind: 'search', value: query.q }),
		field({ name: 'agency', label: 'Agency code', value: query.agency, placeholder: 'e.g. 08-04' }),
		field({ name: 'status', label: 'Status', kind: 'select', value: query.status, options: options(STATUS) }),
		field({ name: 'category', label: 'Category', value: query.category, placeholder: 'e.g. infrastructure' }),
		field({ name: 'cost_band', label: 'Cost variance band', kind: 'select', value: query.cost_band, options: BAND_OPTIONS }),
		field({ name: 'schedule_band', label: 'Schedule variance band', kind: 'select', value: query.schedule_band, options: BAND_OPTIONS }),
		field({ name: 'review_status', label: 'Review status', kind: 'select', value: query.review_status, options: options(REVIEW) }),
		field({ name: 'funding_source', label: 'Funding source', kind: 'select', value: query.funding_source, options: options(FUNDING) }),
		field({ name: 'sort', label: 'Sort by', kind: 'select', value: query.sort || 'id', options: SORTS }),
	]);
	const active = FILTERS.filter((k) => query[k] && k !== 'sort').length;
	return h('div', null,
		heading('Projects', 'The ICT projects agencies reported, with how far cost and schedule have drifted from plan.'),
		form,
		h('div', { class: 'list-tools' },
			h('p', { class: 'muted' }, page.items.length + ' shown' + (active ? ', ' + active + ' filter' + (active > 1 ? 's' : '') + ' applied' : '') +
				(query.after ? ' (a later page)' : '')),
			csvButton('/v1/projects' + qs(filters), 'ictmon-projects.csv')),
		table({
			id: 'projects', caption: 'Projects', captionHidden: true, rows: page.items, empty: 'No project matches these filters.',
			columns: [
				{ label: 'Project', head: true, value: (p) => h('span', null, h('a', { href: projectHref(p), class: 'cell-link' }, p.title),
					h('span', { class: 'code sub-line' }, p.id)) },
				{ label: 'Agency', value: (p) => agencyLinks([p.agency]) },
				{ label: 'Status', value: (p) => fmt.words(p.status) },
				{ label: 'Planned cost', num: true, value: (p) => fmt.money(p.planned_cost, p.currency) },
				{ label: 'Projected cost', num: true, value: (p) => fmt.money(p.actual_cost ?? p.projected_cost, p.currency) },
				{ label: 'CV', num: true, value: (p) => h('span', null, fmt.percent(p.cv_percent), ' ', band(p.cost_band)) },
				{ label: 'SV', num: true, value: (p) => h('span', null, fmt.percent(p.sv_percent), ' ', band(p.schedule_band)) },
				{ label: 'Review', value: (p) => fmt.words(p.review_status) },
			],
		}),
		pager('/projects', query, page.next));
}

function variance(versions) {
	if (versions.length === 0)
		return null;
	const labels = versions.map((v) => 'v' + v.version);
	const last = versions[versions.length - 1];
	return h('div', { class: 'grid two' },
		lines({
			title: 'Cost and schedule variance by version (%)',
			summary: versions.length + ' versions; now CV ' + fmt.percent(last.cv_percent) + ' (' + last.cost_band + '), SV ' +
				fmt.percent(last.sv_percent) + ' (' + last.schedule_band + '). Negative means over cost or late.',
			labels, xAxis: 'Version', tableHead: 'Version', yAxis: '% of plan (negative: over, late)',
			series: [{ name: 'Cost variance (CV %)', values: versions.map((v) => v.cv_percent) },
				{ name: 'Schedule variance (SV %)', values: versions.map((v) => v.sv_percent), color: 3 }],
			format: (v) => fmt.percent(v), width: chartWidth(true),
		}),
		lines({
			title: 'Planned and projected cost by version',
			summary: 'Planned ' + fmt.money(versions[0].planned_cost, '') + ' at first, ' + fmt.money(last.planned_cost, '') +
				' now; projected ' + fmt.money(last.actual_cost ?? last.projected_cost, '') + '.',
			labels, xAxis: 'Version', tableHead: 'Version', yAxis: 'Amount',
			series: [{ name: 'Planned cost', values: versions.map((v) => v.planned_cost) },
				{ name: 'Projected or actual cost', values: versions.map((v) => v.actual_cost ?? v.projected_cost), color: 1 }],
			format: (v) => fmt.money(v), width: chartWidth(true),
		}));
}

function budgetTable(rows, id, caption) {
	return table({
		id, caption, rows,
		empty: 'No budget line matches the project\'s classifications.',
		columns: [
			{ label: 'Year', head: true, value: (b) => String(b.fiscal_year) },
			{ label: 'Program', value: (b) => b.program },
			{ label: 'Classification', value: (b) => [b.subtitulo, b.item, b.asignacion].filter((x) => x !== null && x !== undefined)
				.map((x) => String(x).padStart(2, '0')).join('.') },
			{ label: 'Denomination', value: (b) => b.denomination },
			{ label: 'Phase', value: (b) => fmt.words(b.phase) + (b.period ? ', ' + fmt.month(b.fiscal_year + '-' + String(b.period).padStart(2, '0')) : '') },
			{ label: 'Amount', num: true, value: (b) => fmt.money(b.amount, b.currency) },
		],
	});
}


export async function projectView({ params }) {
	const p = await api('/v1/projects/' + encodeURIComponent(params.agency) + '/' + encodeURIComponent(params.id));
	const versions = p.versions || [];
	const cur = p.currency || '';
	const lines_ = p.budget;
	return h('div', null,
		heading(p.title, null),
		h('p', { class: 'sub' }, agencyLinks([p.agency]), ' ', p.agency_name || '', ' · ', h('span', { class: 'code' }, p.id), ' · ',
			fmt.words(p.status), ' · version ' + p.version),
		p.description ? h('p', { class: 'lead' }, p.description) : null,
		figures([
			{ label: 'Planned cost', value: fmt.moneyShort(p.planned_cost, cur), note: fmt.money(p.planned_cost, cur) },
			{ label: p.actual_cost ? 'Actual cost' : 'Projected cost', value: fmt.moneyShort(p.actual_cost ?? p.projected_cost, cur),
				note: fmt.money(p.actual_cost ?? p.projected_cost, cur) },
			{ label: 'Cost variance', value: fmt.percent(p.cv_percent), note: h('span', null, band(p.cost_band), ' ', fmt.money(p.cv, cur)) },
			{ label: 'Schedule variance', value: fmt.percent(p.sv_percent),
				note: h('span', null, band(p.schedule_band), ' ', p.sv_days === null || p.sv_days === undefined ? '' : fmt.count(p.sv_days) + ' days') },
			{ label: 'Rebaselines', value: fmt.count(p.rebaselines) },
		]),
		section('Variance over time', { class: 'card' }, variance(versions) || h('p', { class: 'muted' }, 'No versions.')),
		section('Versions', { class: 'card' },
			table({
				id: 'versions', caption: 'Every accepted version, oldest first; a rebaseline moved the planned cost or dates', rows: versions,
				columns: [
					{ label: 'Version', head: true, value: (v) => h('span', null, 'v' + v.version, v.rebaselined ? [' ', badge('rebaselined', 'medium')] : null) },
					{ label: 'From', value: (v) => h('time', { datetime: v.valid_from, title: fmt.time(v.valid_from) }, fmt.date(v.valid_from)) },
					{ label: 'Status', value: (v) => fmt.words(v.status) },
					{ label: 'Planned cost', num: true, value: (v) => fmt.money(v.planned_cost, cur) },
					{ label: 'Projected (actual)', num: true, value: (v) => v.actual_cost !== null && v.actual_cost !== undefined
						? fmt.money(v.actual_cost, cur) + ' (actual)' : fmt.money(v.projected_cost, cur) },
					{ label: 'Planned end', value: (v) => fmt.date(v.planned_end) },
					{ label: 'Projected end', value: (v) => fmt.date(v.projected_end) },
					{ label: 'CV', num: true, value: (v) => h('span', null, fmt.percent(v.cv_percent), ' ', band(v.cost_band)) },
					{ label: 'SV', num: true, value: (v) => h('span', null, fmt.percent(v.sv_percent), ' ', band(v.schedule_band)) },
				],
			})),
		section('Details', { class: 'card' },
			facts([
				['Category', fmt.words(p.category)],
				['Capabilities', (p.capabilities || []).map(fmt.words).join(', ') || '—'],
				['Funding', fmt.words(p.funding_source) + (p.funding_program ? ' · ' + p.funding_program : '')],
				['Review status', fmt.words(p.review_status)],
				['CIO rating', p.cio_rating ? p.cio_rating + ' of 5' : '—'],
				['Planned', fmt.date(p.planned_start) + ' – ' + fmt.date(p.planned_end)],
				['Projected end', fmt.date(p.projected_end)],
				['Actual', fmt.date(p.actual_start) + ' – ' + fmt.date(p.actual_end)],
				['Shared platforms', (p.shared_platforms || []).join(', ') || 'none'],
				['Budget classifications', p.budget_lines.join(', ') || '—'],
				['Updated', fmt.time(p.updated_at)],
			])),
		section('Duplicates', { class: 'card' },
			table({
				id: 'duplicates', caption: 'Clusters of similar projects this project belongs to', rows: p.duplicates || [],
				empty: 'No similar project in another agency.',
				columns: [
					{ label: 'Cluster', head: true, value: (d) => h('a', { href: '#/overlaps/' + d.id, class: 'cell-link' }, d.summary || 'Cluster ' + d.id) },
					{ label: 'Agencies', value: (d) => agencyLinks(d.agencies) },
					{ label: 'Similarity', num: true, value: (d) => fmt.fixed(d.value, 2) },
					{ label: 'Planned cost together', num: true, value: (d) => fmt.money(d.amount, d.currency) },
				],
			})),
		section('Linked awards', { class: 'card' },
			table({
				id: 'awards', caption: 'Awards of the project\'s procurement processes', rows: p.awards || [],
				empty: 'No award is linked to this project (no OCIDs, or none received yet).',
				columns: [
					{ label: 'Process', head: true, value: (a) => h('span', { class: 'code' }, a.ocid) },
					{ label: 'Date', value: (a) => fmt.date(a.date) },
					{ label: 'Title', value: (a) => a.title },
					{ label: 'Suppliers', value: (a) => (a.suppliers || []).map((x) => x.name || x.id).join(', ') },
					{ label: 'Method', value: (a) => fmt.words(a.method) },
					{ label: 'Amount', num: true, value: (a) => fmt.money(a.amount, a.currency) },
				],
			})),
		section('Budget lines', { class: 'card' },
			budgetTable(lines_.filter((b) => !b.period), 'budget-lines',
				'The agency\'s budget lines under the project\'s classifications'),
			lines_.some((b) => b.period) ? h('details', { class: 'as-table' },
				h('summary', null, 'Monthly execution (' + lines_.filter((b) => b.period).length + ' lines)'),
				budgetTable(lines_.filter((b) => b.period), 'budget-months', 'Monthly lines under the same classifications')) : null));
}
