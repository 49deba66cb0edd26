// views/alerts.js owns the alerts list (GET /v1/alerts) and one alert (GET /v1/alerts/ID): its evidence and history, acknowledging it, silencing it, and (analysts) the emails that listed it.

import { api, query as qs } from '../api.js';
import { h, section, table, figures, heading, band, field, pager, agencyLinks, newId } from '../dom.js';
import * as fmt from '../format.js';
import { showError, showStatus } from '../router.js';
import { isAnalyst } from '../session.js';
import { filterForm, csvButton, evidenceTable } from './common.js';

const STATES = [['', 'Any'], ['firing', 'Firing'], ['resolved', 'Resolved']];
const SEVERITIES = [['', 'Any'], ['high', 'High'], ['medium', 'Medium'], ['low', 'Low']];
const ACKED = [['', 'Either'], ['false', 'Not yet'], ['true', 'Yes']];
const DURATIONS = [['2h', '2 hours'], ['1d', '1 day'], ['7d', '7 days'], ['30d', '30 days'], ['90d', '90 days']];

function stateText(a) {
	if (a.state === 'resolved')
		return 'Resolved ' + fmt.time(a.resolved_at);
	if (a.acked)
		return 'Firing, acknowledged by ' + a.acked.by + ' on ' + fmt.time(a.acked.at) +
			(a.acked.comment ? ': “' + a.acked.comment + '”' : '');
	return 'Firing since ' + fmt.time(a.fired_at) + ', open';
}

export async function alertsView({ query }) {
	const filters = { state: query.state, severity: query.severity, agency: query.agency, acked: query.acked, rule: query.rule };
	const page = await api('/v1/alerts' + qs(Object.assign({}, filters, { after: query.after, limit: 50 })));
	return h('div', null,
		heading('Alerts', 'What the rules raised from the indicators, newest first. Every alert email links to its page here.'),
		filterForm('/alerts', [
			field({ name: 'state', label: 'State', kind: 'select', value: query.state, options: STATES }),
			field({ name: 'severity', label: 'Severity', kind: 'select', value: query.severity, options: SEVERITIES }),
			field({ name: 'acked', label: 'Acknowledged', kind: 'select', value: query.acked, options: ACKED }),
			field({ name: 'agency', label: 'Agency code', value: query.agency, placeholder: 'e.g. 08-04' }),
		]),
		h('div', { class: 'list-tools' }, h('p', { class: 'muted' }, page.items.length + ' shown'),
			csvButton('/v1/alerts' + qs(filters), 'ictmon-alerts.csv')),
		table({
			id: 'alerts', caption: 'Alerts', captionHidden: true, rows: page.items, empty: 'No alert matches these filters.',
			columns: [
				{ label: 'Severity', value: (a) => band(a.severity) },
				{ label: 'Alert', head: true, value: (a) => h('span', null, h('a', { href: '#/alerts/' + a.id, class: 'cell-link' }, a.summary || a.subject),
					h('span', { class: 'sub-line' }, '#' + a.id + ' · ' + a.rule)) },
				{ label: 'Agencies', value: (a) => agencyLinks(a.agencies && a.agencies.length ? a.agencies : (a.agency ? [a.agency] : [])) },
				{ label: 'State', value: (a) => h('span', null, fmt.words(a.state),
					a.acked ? h('span', { class: 'sub-line' }, 'acked by ' + a.acked.by) : null,
					a.suppressed && !a.acked ? h('span', { class: 'sub-line' }, 'not mailed') : null) },
				{ label: 'Fired', value: (a) => h('span', { class: 'nowrap' }, fmt.time(a.fired_at)) },
				{ label: 'Amount', num: true, value: (a) => fmt.money(a.amount, a.currency) },
			],
		}),
		pager('/alerts', query, page.next));
}

async function act(button, path, body, reload, done) {
	button.disabled = true;
	showError('');
	try {
		await api(path, { method: 'POST', body });
		await reload();
		showStatus(done);
		const state = document.getElementById('alert-state');
		if (state) {
			state.setAttribute('tabindex', '-1');
			state.focus();
		}
	} catch (e) {
		button.disabled = false;
		showError(e.status === 409 ? 'The alert changed meanwhile: ' + e.message + ' Reload to see it.' : e.message);
	}
}

function actions(a, reload) {
	if (a.state !== 'firing')
		return h('p', { class: 'muted' }, 'A resolved alert needs no action.');
	const parts = [];
	if (!a.acked) {
		const comment = newId('ack-comment');
		const button = h('button', { type: 'submit', id: 'ack', class: 'primary' }, 'Acknowledge');
		const form = h('form', { id: 'ack-form', class: 'inline-form' },
			h('div', { class: 'field' }, h('label', { for: comment }, 'Comment (optional)'),
				h('input', { id: comment, name: 'comment', type: 'text', maxlength: 2000 })),
			h('div', { class: 'field actions' }, button));
		form.addEventListener('submit', (e) => {
			e.preventDefault();
			const text = form.elements.comment.value.trim();
			act(button, '/v1/alerts/' + a.id + '/ack', text ? { comment: text } : {}, reload, 'Acknowledged.');
		});
		parts.push(h('p', { class: 'muted' }, 'Acknowledging stops the emails about it until it fires again.'), form);
	} else {
		const button = h('button', { type: 'button', id: 'unack', class: 'quiet' }, 'Withdraw the acknowledgement');
		button.addEventListener('click', () => act(button, '/v1/alerts/' + a.id + '/unack', {}, reload, 'Acknowledgement withdrawn.'));
		parts.push(h('p', null, button));
	}
	parts.push(silenceForm(a, reload));
	return parts;
}

function silenceForm(a, reload) {
	const matchers = [['fingerprint', 'This alert only']];
	if (a.agency)
		matchers.push(['rule-agency', 'Rule ' + a.rule + ' for ' + a.agency]);
	matchers.push(['rule', 'Rule ' + a.rule + ' for every agency']);
	const button = h('button', { type: 'submit', class: 'quiet' }, 'Silence');
	const form = h('form', { id: 'silence', class: 'silence-form' },
		h('h3', null, 'Silence'),
		h('p', { class: 'muted' }, 'Nobody is mailed about the alerts a silence matches while it lasts.'),
		h('div', { class: 'field-row' },
			field({ name: 'matcher', label: 'What to silence', kind: 'select', value: 'fingerprint', options: matchers }),
			field({ name: 'duration', label: 'For', kind: 'select', value: '7d', options: DURATIONS })),
		field({ name: 'reason', label: 'Reason (required)', kind: 'textarea', required: true, attrs: { maxlength: 2000 } }),
		h('div', { class: 'field actions' }, button));
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		const reason = form.elements.reason.value.trim();
		if (!reason) {
			showError('Say why the alert is silenced: the reason is kept with the silence.');
			form.elements.reason.focus();
			return;
		}
		const m = form.elements.matcher.value;
		const body = { reason, duration: form.elements.duration.value };
		if (m === 'fingerprint')
			body.fingerprint = a.fingerprint;
		else
			body.rule = a.rule;
		if (m === 'rule-agency')
			body.agency = a.agency;
		button.disabled = true;
		showError('');
		try {
			const sil = await api('/v1/silences', { method: 'POST', body });
			await reload();
			showStatus('Silenced until ' + fmt.time(sil.ends_at) + '.');
		} catch (err) {
			button.disabled = false;
			showError('The silence was not created: ' + err.message);
		}
	});
	return form;
}

function eventDetail(ev) {
	const d = ev.detail || {};
	const parts = [];
	if (d.comment)
		parts.push('“' + d.comment + '”');
	if (d.run_id)
		parts.push('indicator run ' + d.run_id);
	for (const [k, v] of Object.entries(d)) {
		if (k !== 'comment' && k !== 'run_id' && v !== null && typeof v !== 'object')
			parts.push(fmt.words(k) + ': ' + v);
	}
	return parts.join(' · ') || '—';
}

export async function alertView({ params, reload }) {
	const a = await api('/v1/alerts/' + encodeURIComponent(params.id));
	const analyst = isAnalyst();
	const ev = a.evidence || {};
	return h('div', null,
		heading(fmt.words(a.rule) + ': ' + a.subject, a.summary),
		h('p', { class: ['alert-state', 'state-' + a.state, a.acked ? 'state-acked' : null] },
			band(a.severity), ' ', h('span', { id: 'alert-state' }, stateText(a))),
		a.suppressed && !a.acked && a.state === 'firing'
			? h('p', { class: 'muted' }, 'Nobody is mailed about it now: a silence or its agency\'s stale feed holds it back.') : null,
		figures([
			{ label: 'Severity', value: fmt.words(a.severity) },
			{ label: 'Value', value: fmt.decimal(a.value), note: band(a.band) },
			{ label: 'Amount', value: fmt.moneyShort(a.amount, a.currency), note: fmt.money(a.amount, a.currency) },
			{ label: 'First seen', value: fmt.date(a.first_seen), note: fmt.time(a.first_seen) },
			{ label: 'Last seen', value: fmt.date(a.last_seen), note: 'last run: ' + fmt.words(a.last_change) },
		]),
		analyst ? section('What to do', { class: 'card', id: 'alert-actions' }, actions(a, reload)) : null,
		section('Evidence', { class: 'card' },
			h('p', null, 'Indicator ', h('strong', null, a.indicator), ' · agencies ', agencyLinks(a.agencies)),
			evidenceTable(ev.rows, { id: 'alert-evidence', caption: 'The rows the indicator found' + (ev.rows_total > (ev.rows || []).length
				? ' (the first ' + (ev.rows || []).length + ' of ' + fmt.count(ev.rows_total) + ')' : '') })),
		section('History', { class: 'card' },
			table({
				id: 'alert-history', caption: 'What happened to the alert, oldest first', rows: a.events || [],
				columns: [
					{ label: 'When', head: true, value: (e) => fmt.time(e.at) },
					{ label: 'What', value: (e) => fmt.words(e.kind) },
					{ label: 'Who', value: (e) => e.actor || 'ictmon' },
					{ label: 'Detail', value: eventDetail },
				],
			})),
		analyst && Array.isArray(a.emails) ? section('Emails', { class: 'card', id: 'alert-emails' },
			table({
				caption: 'The emails that listed this alert', rows: a.emails, empty: 'No email has listed it (no recipient, or it was held back).',
				columns: [
					{ label: 'Recipient', head: true, value: (m) => m.recipient },
					{ label: 'Kind', value: (m) => fmt.words(m.kind) },
					{ label: 'Change', value: (m) => fmt.words(m.change) },
					{ label: 'State', value: (m) => fmt.words(m.state) },
					{ label: 'Attempts', num: true, value: (m) => fmt.count(m.attempts) },
					{ label: 'Queued', value: (m) => fmt.time(m.created_at) },
					{ label: 'Sent', value: (m) => fmt.time(m.sent_at) },
					{ label: 'Last error', value: (m) => m.last_error || '—' },
				],
			})) : null);
}
