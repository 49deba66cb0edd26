// format.js owns how values read on the page: decimal amounts as exact strings, dates and times in the user's locale, counts, percents and the API's enum words.

const locale = undefined;	// the browser's
const parts = new Intl.NumberFormat(locale).formatToParts(12345.6);
const GROUP = (parts.find((p) => p.type === 'group') || { value: ',' }).value;
const DECIMAL = (parts.find((p) => p.type === 'decimal') || { value: '.' }).value;
const DECIMAL_RE = /^(-?)(\d+)(?:\.(\d+))?$/;

// An exact decimal string (or a JSON number the evidence stored) as the API sent it.
function decimalText(value) {
	if (value === null || value === undefined || value === '')
		return null;
	if (typeof value === 'number') {
		if (!Number.isFinite(value))
			return null;
		// Evidence numbers are whole amounts or short decimals; toString keeps them exact enough to show.
		return Number.isInteger(value) ? BigInt(value).toString() : String(value);
	}
	return String(value).trim();
}

function groupDigits(digits) {
	let out = '';
	for (let i = 0; i < digits.length; i++) {
		if (i > 0 && (digits.length - i) % 3 === 0)
			out += GROUP;
		out += digits[i];
	}
	return out;
}

// Groups the digits of a decimal string without a float: "-1234567.50" → "-1,234,567.50".
// Zero decimals (".00") are dropped: these are money amounts shown whole.
export function decimal(value) {
	const text = decimalText(value);
	if (text === null)
		return '—';
	const m = DECIMAL_RE.exec(text);
	if (!m)
		return text;
	const whole = groupDigits(m[2].replace(/^0+(?=\d)/, ''));
	const frac = m[3] && /[1-9]/.test(m[3]) ? DECIMAL + m[3] : '';
	const sign = m[1] && (/[1-9]/.test(m[2]) || frac) ? '-' : '';
	return sign + whole + frac;
}

// An amount with its currency: "CLP 1,234,567".
export function money(value, currency) {
	const text = decimal(value);
	if (text === '—')
		return text;
	return currency ? currency + '\u00a0' + text : text;
}

// A short amount for tight places, still from the string: "1,315.5 M", "2.49 bn".
export function moneyShort(value, currency) {
	const text = decimalText(value);
	const m = text === null ? null : DECIMAL_RE.exec(text);
	if (!m)
		return money(value, currency);
	const digits = m[2].replace(/^0+(?=\d)/, '');
	let out;
	if (digits.length > 9)
		out = shorten(digits, 9, 2) + '\u00a0bn';
	else if (digits.length > 6)
		out = shorten(digits, 6, 1) + '\u00a0M';
	else
		return money(value, currency);
	out = (m[1] ? '-' : '') + out;
	return currency ? currency + '\u00a0' + out : out;
}

// The digits above 10^power, with `keep` decimals cut (not rounded: an upper digit is never invented).
function shorten(digits, power, keep) {
	const whole = digits.slice(0, digits.length - power);
	const frac = digits.slice(digits.length - power, digits.length - power + keep).replace(/0+$/, '');
	return groupDigits(whole) + (frac ? DECIMAL + frac : '');
}

// A count: 1234 → "1,234".
export function count(n) {
	if (n === null || n === undefined)
		return '—';
	return new Intl.NumberFormat(locale).format(n);
}

// A percent the API sent as a JSON number (cv_percent, share).
export function percent(n, digits = 1) {
	if (n === null || n === undefined || n === '')
		return '—';
	const v = typeof n === 'number' ? n : Number(n);
	if (!Number.isFinite(v))
		return String(n);
	return new Intl.NumberFormat(locale, { maximumFractionDigits: digits,
		minimumFractionDigits: 0 }).format(v) + '\u00a0%';
}

// A number with a fixed count of decimals, for indices and similarities.
export function fixed(n, digits = 2) {
	if (n === null || n === undefined || n === '')
		return '—';
	const v = Number(n);
	if (!Number.isFinite(v))
		return String(n);
	return new Intl.NumberFormat(locale, { maximumFractionDigits: digits,
		minimumFractionDigits: digits }).format(v);
}

// "YYYY-MM-DD" (or the date part of a time) as the user's locale writes a date.
export function date(value) {
	if (!value)
		return '—';
	const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value));
	if (!m)
		return String(value);
	const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
	return d.toLocaleDateString(locale, { year: 'numeric', month: 'short', day: 'numeric' });
}

function parseTime(value) {
	// Microseconds are more than Date reads everywhere: milliseconds are enough to show.
	const text = String(value).replace(/(\.\d{3})\d+/, '$1');
	const d = new Date(text);
	return Number.isNaN(d.getTime()) ? null : d;
}

// A UTC time of the API as the user's local date and time.
export function time(value) {
	if (!value)
		return '—';
	const d = parseTime(value);
	if (!d)
		return String(value);
	return d.toLocaleString(locale, { year: 'numeric', month: 'short', day: 'numeric',
		hour: '2-digit', minute: '2-digit' });
}

// "YYYY-MM" as a short month: "Mar 2026".
export function month(value) {
	const m = /^(\d{4})-(\d{2})/.exec(String(value || ''));
	if (!m)
		return String(value || '—');
	return new Date(Number(m[1]), Number(m[2]) - 1, 1).toLocaleDateString(locale,
		{ year: 'numeric', month: 'short' });
}

// An API word as a label: "in_progress" → "In progress".
export function words(value) {
	if (value === null || value === undefined || value === '')
		return '—';
	const text = String(value).replace(/[_-]/g, ' ');
	return text.charAt(0).toUpperCase() + text.slice(1);
}

const KINDS = {
	duplicates: 'Duplicate projects',
	spend: 'Spending overlap',
	tender: 'Tender overlap',
	split: 'Split purchase',
	'DUP-PROJECT': 'Duplicate projects',
	'OVL-SPEND': 'Spending overlap',
	'OVL-TENDER': 'Tender overlap',
	SPLIT: 'Split purchase',
};

// An overlap's kind (or indicator code) as a reader names it.
export function kind(value) {
	return KINDS[value] || words(value);
}

// Whether a value the API sent holds a usable number (for chart geometry only).
export function toNumber(value) {
	if (value === null || value === undefined || value === '')
		return null;
	const v = Number(value);
	return Number.isFinite(v) ? v : null;
}

// The exact sum of decimal strings (BigInt on a common scale), as a decimal string.
export function sumDecimals(values) {
	let scale = 0;
	const parsed = [];
	for (const v of values) {
		const m = DECIMAL_RE.exec(decimalText(v) || '');
		if (!m)
			continue;
		parsed.push(m);
		scale = Math.max(scale, (m[3] || '').length);
	}
	let total = 0n;
	for (const m of parsed) {
		const digits = m[2] + (m[3] || '').padEnd(scale, '0');
		total += (m[1] ? -1n : 1n) * BigInt(digits);
	}
	const neg = total < 0n;
	let text = (neg ? -total : total).toString().padStart(scale + 1, '0');
	if (scale > 0)
		text = text.slice(0, text.length - scale) + '.' + text.slice(text.length - scale);
	return (neg ? '-' : '') + text;
}
