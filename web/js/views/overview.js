// views/overview.js owns the portfolio overview (GET /v1/portfolio, and GET /v1/feeds for analysts): money by agency, category and funding source, bands, the biggest overlaps and duplicates, open alerts and feed health.

import { api } from '../api.js';
import { h, section, table, figures, heading, agencyLinks, badge, hashLink } from '../dom.js';
import * as fmt from '../format.js';
import { hbars, columns, chartWidth } from '../charts.js';
import { isAnalyst, known } from '../session.js';
import { overlapTable } from './common.js';
import { showError } from '../router.js';

const BANDS = ['low', 'medium', 'high', 'none'];

function alertTiles(alerts) {
	const firing = (alerts && alerts.firing) || {};
	const tile = (sev) => h('li', null, h('a', { class: 'tile tile-' + sev,
		href: hashLink('/alerts', { state: 'firing', severity: sev }) },
	h('span', { class: 'tile-value' }, fmt.count(firing[sev] || 0)),
	h('span', { class: 'tile-label' }, fmt.words(sev) + ' severity')));
	return h('div', null,
		h('ul', { class: 'tiles', 'aria-label': 'Firing alerts by severity' }, ['high', 'medium', 'low'].map(tile)),
		h('p', { class: 'muted' }, fmt.count(alerts ? alerts.acknowledged : 0) + ' acknowledged · ' +
			fmt.count(alerts ? alerts.silenced : 0) + ' silenced · ',
		h('a', { href: '#/alerts?state=firing' }, 'all firing alerts')));
}

function feedHealth(feeds, list) {
	const f = feeds || {};
	const parts = [figures([
		{ label: 'Feeds', value: fmt.count(f.total || 0) },
		{ label: 'Healthy', value: fmt.count(f.ok || 0) },
		{ label: 'Failing', value: fmt.count(f.failing || 0) },
		{ label: 'Stale', value: fmt.count(f.stale || 0) },
	])];
	if (list && list.length === 0)
		parts.push(h('p', { class: 'muted' }, 'No feeds are configured: data arrives by push only.'));
	else if (list) {
		parts.push(table({
			caption: 'Feeds and their last run',
			rows: list,
			empty: 'No feeds are configured: data arrives by push only.',
			columns: [
				{ label: 'Feed', head: true, value: (x) => x.name },
				{ label: 'Kind', value: (x) => x.kind },
				{ label: 'Agency', value: (x) => x.agency ? agencyLinks([x.agency]) : '—' },
				{ label: 'Last success', value: (x) => fmt.time(x.last_success_at) },
				{ label: 'Failures in a row', num: true, value: (x) => fmt.count(x.consecutive_failures) },
				{ label: 'Problem', value: (x) => x.problem || (x.consecutive_failures > 0 ? badge('failing', 'high') : badge('ok', 'low')) },
			],
		}));
	}
	return parts;
}

export async function overviewView() {
	const analyst = isAnalyst();
	const [p, feedList] = await Promise.all([
		api('/v1/portfolio'),
		// The feeds list is a detail: without it the overview still stands, and says why.
		analyst ? api('/v1/feeds').then((r) => r.items).catch((e) => {
			showError('The feeds could not be listed: ' + e.message);
			return null;
		}) : Promise.resolve(null),
	]);
	const who = known();
	const t = p.totals || {};
	const cur = t.currency || 'CLP';
	const scope = p.scope;
	const agencies = (p.by_agency || []).map((a) => ({
		label: a.agency + ' ' + (a.name || '') + (scope && a.agency === scope ? ' (your agency)' : ''),
		href: '#/agencies/' + encodeURIComponent(a.agency),
		values: [a.ict_budget, a.ict_spend],
	}));
	const topBudget = (p.by_agency || [])[0];
	const categories = (p.by_category || []).map((c) => ({
		label: fmt.words(c.category || 'uncategorised'),
		href: c.category ? hashLink('/projects', { category: c.category }) : null,
		values: [c.planned_cost],
	}));
	const funding = (p.by_funding_source || []).map((c) => ({
		label: fmt.words(c.funding_source || 'not stated'),
		values: [c.planned_cost],
	}));
	const bands = p.bands || { cost: {}, schedule: {} };
	const money = (v, short) => short ? fmt.moneyShort(v) : fmt.money(v, cur);
	const overlaps = p.overlaps || [];
	const duplicates = p.duplicates || [];

	return h('div', { class: 'overview' },
		heading(scope ? 'ICT portfolio · agency view' : 'ICT portfolio',
			'As of ' + fmt.time(p.as_of) + ' · amounts in ' + cur +
			(scope ? ' · totals are portfolio-wide; overlaps and alerts are those involving ' + scope +
				(who && who.agency_name ? ' ' + who.agency_name : '') : '')),
		figures([
			{ label: 'Agencies', value: fmt.count(t.agencies) },
			{ label: 'Projects', value: fmt.count(t.projects), note: h('a', { href: '#/projects' }, 'list') },
			{ label: 'Planned cost', value: fmt.moneyShort(t.planned_cost, cur), note: fmt.money(t.planned_cost, cur) },
			{ label: 'ICT budget', value: fmt.moneyShort(t.ict_budget, cur), note: fmt.money(t.ict_budget, cur) },
			{ label: 'ICT spend', value: fmt.moneyShort(t.ict_spend, cur), note: fmt.money(t.ict_spend, cur) },
		]),
		h('div', { class: 'grid two' },
			section('Open alerts', { id: 'overview-alerts', class: 'card' }, alertTiles(p.alerts)),
			section('Feed health', { id: 'overview-feeds', class: 'card' }, feedHealth(p.feeds, analyst ? feedList : null))),
		section('Biggest overlaps', { id: 'overview-overlaps', class: 'card' },
			h('p', { class: 'muted' }, 'Agencies buying the same kind of thing separately, and purchases split under the tender threshold. ' +
				'The potential saving is an upper bound: all buyers\' money but the largest one\'s.'),
			overlapTable(overlaps, { caption: 'The largest overlaps by amount', empty: 'No overlaps found.' }),
			h('p', null, h('a', { href: '#/overlaps' }, 'All overlaps'))),
		section('Duplicate project clusters', { id: 'overview-duplicates', class: 'card' },
			h('p', { class: 'muted' }, 'Projects in different agencies that describe the same system. ' +
				'The potential saving is the planned cost of all but the largest project.'),
			overlapTable(duplicates, { caption: 'The largest clusters of similar projects', empty: 'No duplicate projects found.' }),
			h('p', null, h('a', { href: '#/overlaps?kind=duplicates' }, 'All duplicate clusters'))),
		section('ICT budget and spend by agency', { class: 'card' },
			hbars({
				title: 'ICT budget and spend, top ' + agencies.length + ' agencies',
				summary: agencies.length === 0 ? 'No agency has an ICT budget or projects yet.'
					: 'Largest ICT budget: ' + topBudget.agency + ' ' + (topBudget.name || '') + ', ' + fmt.money(topBudget.ict_budget, cur) +
						', of which ' + fmt.money(topBudget.ict_spend, cur) + ' spent.',
				rows: agencies, head: 'Agency',
				series: [{ name: 'ICT budget' }, { name: 'ICT spend' }],
				format: money, axis: 'Amount (' + cur + ')',
			})),
		h('div', { class: 'grid two' },
			section('Planned cost by category', { class: 'card' },
				hbars({
					title: 'Planned cost of projects by category',
					summary: categories.length + ' categories; the largest is ' + (categories[0] ? categories[0].label + ', ' + fmt.money(categories[0].values[0], cur) : 'none') + '.',
					rows: categories, head: 'Category', series: [{ name: 'Planned cost' }],
					format: money, axis: 'Planned cost (' + cur + ')', width: chartWidth(true),
				})),
			section('Planned cost by funding source', { class: 'card' },
				hbars({
					title: 'Planned cost of projects by funding source',
					summary: funding.length + ' funding sources; the largest is ' + (funding[0] ? funding[0].label + ', ' + fmt.money(funding[0].values[0], cur) : 'none') + '.',
					rows: funding, head: 'Funding source', series: [{ name: 'Planned cost', color: 2 }],
					format: money, axis: 'Planned cost (' + cur + ')', width: chartWidth(true),
				}))),
		section('Projects by cost and schedule variance', { class: 'card' },
			h('p', { class: 'muted' }, 'Bands of how far projected cost and end date have drifted from plan; "none" is a project without the figures to measure.'),
			columns({
				title: 'Projects by variance band',
				summary: 'Cost: ' + BANDS.map((b) => (bands.cost[b] || 0) + ' ' + b).join(', ') +
					'. Schedule: ' + BANDS.map((b) => (bands.schedule[b] || 0) + ' ' + b).join(', ') + '.',
				categories: BANDS.map(fmt.words),
				series: [{ name: 'Cost variance', values: BANDS.map((b) => bands.cost[b] || 0) },
					{ name: 'Schedule variance', values: BANDS.map((b) => bands.schedule[b] || 0), color: 3 }],
				yAxis: 'Projects', xAxis: 'Band', width: chartWidth(false),
				links: [BANDS.map((b) => hashLink('/projects', { cost_band: b })),
					BANDS.map((b) => hashLink('/projects', { schedule_band: b }))],
			})));
}
