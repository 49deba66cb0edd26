// charts.js owns the dashboard's small SVG charts (horizontal bars, columns, a time series, a cluster of similar projects), each with a title, axes, a spoken summary and the same numbers as a table.

import { h, s, newId, table } from './dom.js';
import { toNumber } from './format.js';

const FONT = 12;
const COMPACT = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

// The drawing width for a chart in main#view; `half` when it sits in a two-column grid.
export function chartWidth(half) {
	const main = document.getElementById('view');
	const wide = main ? main.clientWidth - 32 : 800;	// main's padding
	const w = wide - 42;				// a card's padding and border
	const avail = half && wide >= 868 ? (wide - 16) / 2 - 42 : w;
	return Math.max(280, Math.min(avail, 1000));
}

function niceStep(max, ticks) {
	const raw = max / ticks;
	const mag = Math.pow(10, Math.floor(Math.log10(raw)));
	const norm = raw / mag;
	return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

// Tick values from lo to hi (lo ≤ 0 ≤ hi), about `n` of them.
function ticks(lo, hi, n) {
	if (hi === lo)
		hi = lo + 1;
	const step = niceStep(hi - lo, n);
	const out = [];
	const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
	for (let i = first; i <= last; i++)
		out.push(i * step);
	return out;
}

function axisText(v) {
	return COMPACT.format(v);
}

function truncate(text, chars) {
	text = String(text);
	return text.length > chars ? text.slice(0, Math.max(1, chars - 1)) + '…' : text;
}

// The frame every chart shares: caption, the svg with its name, a legend, the table.
function frame({ title, summary, svg, series, tableSpec, id }) {
	const titleId = newId('chart');
	svg.setAttribute('role', 'img');
	svg.setAttribute('aria-label', title + '. ' + summary);
	svg.insertBefore(s('title', null, title + '. ' + summary), svg.firstChild);
	const legend = series && series.length > 1
		? h('ul', { class: 'legend', 'aria-hidden': 'true' }, series.map((se, i) =>
			h('li', null, h('span', { class: 'swatch c' + (se.color ?? i) }), se.name)))
		: null;
	return h('figure', { class: 'chart', id, 'aria-labelledby': titleId },
		h('figcaption', { id: titleId }, title),
		legend, svg,
		h('details', { class: 'as-table' }, h('summary', null, 'Show as table'),
			table(Object.assign({ caption: title }, tableSpec))));
}

/*
 * Horizontal bars, one group per row: rows [{label, values: [decimal...]}], series
 * [{name}], format(value) for labels and the table, axis: what the values are in.
 */
export function hbars({ title, summary, rows, series, format, axis, width, id, head }) {
	width = width || chartWidth(false);
	const n = series.length;
	const bar = n > 1 ? 10 : 12, gap = 2, labelH = FONT + 5, rowGap = n > 1 ? 10 : 8, top = 4, bottom = 40;
	const rowH = labelH + n * (bar + gap) + rowGap;
	const valuePad = Math.min(120, width * 0.3);
	const plotW = width - valuePad - 8;
	const max = Math.max(0, ...rows.flatMap((r) => r.values.map((v) => toNumber(v) || 0)));
	const tk = ticks(0, max || 1, Math.max(2, Math.floor(plotW / 110)));
	const scale = (v) => (Math.max(0, v) / tk[tk.length - 1]) * plotW;
	const height = top + rows.length * rowH + bottom;
	const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'svg-chart' });
	const plotBottom = top + rows.length * rowH;
	for (const t of tk) {
		const x = scale(t) + 0.5;
		svg.appendChild(s('line', { x1: x, x2: x, y1: top, y2: plotBottom, class: 'grid' }));
		svg.appendChild(s('text', { x, y: plotBottom + 16, 'text-anchor': 'middle', class: 'tick' }, axisText(t)));
	}
	svg.appendChild(s('text', { x: plotW / 2, y: plotBottom + 34, 'text-anchor': 'middle', class: 'axis-label' }, axis));
	const chars = Math.floor(width / 6.8);
	rows.forEach((r, i) => {
		const y0 = top + i * rowH;
		svg.appendChild(s('text', { x: 0, y: y0 + FONT, class: 'row-label' }, truncate(r.label, chars)));
		r.values.forEach((v, j) => {
			const y = y0 + labelH + j * (bar + gap);
			const num = toNumber(v);
			const w = num === null ? 0 : Math.max(num > 0 ? 1 : 0, scale(num));
			svg.appendChild(s('rect', { x: 0, y, width: w, height: bar, class: 'c' + (series[j].color ?? j), rx: 2 }));
			svg.appendChild(s('text', { x: w + 4, y: y + bar - 2, class: 'value' }, num === null ? '—' : format(v, true)));
		});
	});
	const columns = [{ label: head || 'Name', head: true, value: (r) => r.href ? h('a', { href: r.href }, r.label) : r.label }]
		.concat(series.map((se, j) => ({ label: se.name, num: true, value: (r) => format(r.values[j], false) })));
	return frame({ title, summary, svg, series, id, tableSpec: { columns, rows } });
}

/*
 * Vertical columns grouped by category: categories [label], series [{name, values:
 * [number...]}], yAxis: what is counted.
 */
export function columns({ title, summary, categories, series, yAxis, xAxis, width, id, format, links }) {
	width = width || chartWidth(true);
	format = format || ((v) => String(v));
	const height = 240, left = 44, right = 8, top = 10, bottom = 48;
	const plotW = width - left - right, plotH = height - top - bottom;
	const max = Math.max(0, ...series.flatMap((se) => se.values.map((v) => toNumber(v) || 0)));
	const tk = ticks(0, Math.max(max, 1), 4).filter((t) => Number.isInteger(t) || max > 10);
	const top_ = tk[tk.length - 1] || 1;
	const y = (v) => top + plotH - (Math.max(0, v) / top_) * plotH;
	const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'svg-chart' });
	for (const t of tk) {
		svg.appendChild(s('line', { x1: left, x2: width - right, y1: y(t) + 0.5, y2: y(t) + 0.5, class: 'grid' }));
		svg.appendChild(s('text', { x: left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' }, axisText(t)));
	}
	const groupW = plotW / Math.max(1, categories.length);
	const barW = Math.min(36, (groupW * 0.8) / series.length);
	categories.forEach((c, i) => {
		const gx = left + i * groupW + (groupW - barW * series.length) / 2;
		series.forEach((se, j) => {
			const v = toNumber(se.values[i]) || 0;
			const x = gx + j * barW;
			svg.appendChild(s('rect', { x: x + 1, y: y(v), width: barW - 2, height: Math.max(0, top + plotH - y(v)),
				class: 'c' + (se.color ?? j), rx: 2 }));
			svg.appendChild(s('text', { x: x + barW / 2, y: y(v) - 4, 'text-anchor': 'middle', class: 'value' }, format(se.values[i])));
		});
		svg.appendChild(s('text', { x: left + i * groupW + groupW / 2, y: top + plotH + 16, 'text-anchor': 'middle',
			class: 'tick' }, truncate(c, Math.floor(groupW / 7))));
	});
	svg.appendChild(s('line', { x1: left, x2: width - right, y1: top + plotH + 0.5, y2: top + plotH + 0.5, class: 'axis' }));
	svg.appendChild(s('text', { x: left + plotW / 2, y: height - 8, 'text-anchor': 'middle', class: 'axis-label' }, xAxis || ''));
	svg.appendChild(s('text', { x: 12, y: top + plotH / 2, 'text-anchor': 'middle', class: 'axis-label',
		transform: `rotate(-90 12 ${top + plotH / 2})` }, yAxis || ''));
	const rows = categories.map((c, i) => ({ c, i }));
	const cols = [{ label: xAxis || 'Category', head: true, value: (r) => r.c }]
		.concat(series.map((se, j) => ({ label: se.name, num: true, value: (r) => {
			const text = format(se.values[r.i]);
			const href = links && links[j] && links[j][r.i];
			return href ? h('a', { href }, text) : text;
		} })));
	return frame({ title, summary, svg, series, id, tableSpec: { columns: cols, rows } });
}

/*
 * A series over time: labels [x label], series [{name, values: [raw|null]}], format(raw)
 * for the table and point labels; yAxis names the unit. Lines join the known points;
 * every point has a marker so a single one shows.
 */
export function lines({ title, summary, labels, series, yAxis, xAxis, format, width, id, tableHead }) {
	width = width || chartWidth(false);
	const height = 260, left = 56, right = 16, top = 14, bottom = 52;
	const plotW = width - left - right, plotH = height - top - bottom;
	const nums = series.flatMap((se) => se.values.map(toNumber)).filter((v) => v !== null);
	const lo = Math.min(0, ...nums), hi = Math.max(0, ...nums);
	const tk = ticks(lo, hi === lo ? lo + 1 : hi, 4);
	const y0 = tk[0], y1 = tk[tk.length - 1];
	const y = (v) => top + plotH - ((v - y0) / (y1 - y0 || 1)) * plotH;
	const x = (i) => left + (labels.length <= 1 ? plotW / 2 : (i / (labels.length - 1)) * plotW);
	const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'svg-chart' });
	for (const t of tk) {
		svg.appendChild(s('line', { x1: left, x2: width - right, y1: y(t) + 0.5, y2: y(t) + 0.5, class: t === 0 ? 'axis' : 'grid' }));
		svg.appendChild(s('text', { x: left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' }, axisText(t)));
	}
	const every = Math.max(1, Math.ceil(labels.length / Math.max(1, Math.floor(plotW / 70))));
	labels.forEach((l, i) => {
		if (i % every === 0 || i === labels.length - 1)
			svg.appendChild(s('text', { x: x(i), y: top + plotH + 18, class: 'tick',
				'text-anchor': labels.length > 1 && i === 0 ? 'start' : labels.length > 1 && i === labels.length - 1 ? 'end' : 'middle' }, l));
	});
	series.forEach((se, j) => {
		const cls = 'c' + (se.color ?? j);
		let d = '';
		se.values.forEach((v, i) => {
			const n = toNumber(v);
			if (n === null)
				return;
			d += (d ? ' L' : 'M') + x(i).toFixed(1) + ' ' + y(n).toFixed(1);
		});
		if (d)
			svg.appendChild(s('path', { d, class: 'line ' + cls }));
		se.values.forEach((v, i) => {
			const n = toNumber(v);
			if (n !== null)
				svg.appendChild(s('circle', { cx: x(i), cy: y(n), r: 3.5, class: 'dot ' + cls }));
		});
	});
	svg.appendChild(s('text', { x: left + plotW / 2, y: height - 8, 'text-anchor': 'middle', class: 'axis-label' }, xAxis || ''));
	svg.appendChild(s('text', { x: 12, y: top + plotH / 2, 'text-anchor': 'middle', class: 'axis-label',
		transform: `rotate(-90 12 ${top + plotH / 2})` }, yAxis || ''));
	const rows = labels.map((l, i) => ({ l, i }));
	const cols = [{ label: tableHead || xAxis || '', head: true, value: (r) => r.l }]
		.concat(series.map((se) => ({ label: se.name, num: true, value: (r) => format(se.values[r.i]) })));
	return frame({ title, summary, svg, series, id, tableSpec: { columns: cols, rows } });
}

/*
 * Similar projects as a graph: nodes [{key, label, group, groupName}] on a circle,
 * coloured by group (agency); edges [{a, b, weight}] drawn thicker the more similar.
 */
export function cluster({ title, summary, nodes, edges, width, id }) {
	width = width || chartWidth(false);
	const r = Math.min(width * 0.3, 170);
	const groups = [...new Set(nodes.map((n) => n.group))];
	const pos = new Map();
	nodes.forEach((n, i) => {
		const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, nodes.length);
		pos.set(n.key, { x: width / 2 + r * Math.cos(a), y: r * Math.sin(a), a });
	});
	// The drawing is as tall as the nodes and their labels need, no more.
	const ys = [...pos.values()].map((p) => p.y);
	const shift = 52 - Math.min(...ys);
	for (const p of pos.values())
		p.y += shift;
	const height = Math.max(...ys) + shift + 50;
	const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'svg-chart' });
	for (const e of edges) {
		const p = pos.get(e.a), q = pos.get(e.b);
		if (!p || !q)
			continue;
		const w = toNumber(e.weight) || 0;
		svg.appendChild(s('line', { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: 'edge', 'stroke-width': 1 + w * 5 }));
		svg.appendChild(s('text', { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 - 4, 'text-anchor': 'middle',
			class: 'edge-label' }, w.toFixed(2)));
	}
	const chars = Math.max(10, Math.floor(width / 4 / 6.5));
	for (const n of nodes) {
		const p = pos.get(n.key);
		svg.appendChild(s('circle', { cx: p.x, cy: p.y, r: 11, class: 'node c' + (groups.indexOf(n.group) % 8) }));
		const right = Math.cos(p.a) >= -0.01;
		const below = Math.sin(p.a) > 0.5, above = Math.sin(p.a) < -0.5;
		const tx = p.x + (above || below ? 0 : right ? 16 : -16);
		const ty = p.y + (below ? 28 : above ? -32 : 4);
		const anchor = above || below ? 'middle' : right ? 'start' : 'end';
		svg.appendChild(s('text', { x: tx, y: ty, 'text-anchor': anchor, class: 'node-label' }, n.group));
		svg.appendChild(s('text', { x: tx, y: ty + 14, 'text-anchor': anchor, class: 'tick' }, truncate(n.label, chars)));
	}
	const series = groups.map((g, i) => ({ name: g + (nodes.find((n) => n.group === g).groupName
		? ' ' + nodes.find((n) => n.group === g).groupName : ''), color: i % 8 }));
	const label = (key) => (nodes.find((n) => n.key === key) || { label: key }).label;
	const cols = [
		{ label: 'Project', head: true, value: (e) => e.a + ' — ' + label(e.a) },
		{ label: 'Similar to', value: (e) => e.b + ' — ' + label(e.b) },
		{ label: 'Similarity (0–1)', num: true, value: (e) => (toNumber(e.weight) || 0).toFixed(2) },
	];
	const fig = frame({ title, summary, svg, series: series.length > 1 ? series : null, id,
		tableSpec: { columns: cols, rows: edges, empty: 'No pairs recorded.' } });
	return fig;
}
