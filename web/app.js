// ictmon status page: asks /healthz and /readyz and says what they answered.
'use strict';

function show(id, ok, text) {
	const el = document.getElementById(id);
	el.textContent = text;
	el.className = ok ? 'ok' : 'bad';
}

async function check(path, id, describe) {
	try {
		const res = await fetch(path, { cache: 'no-store' });
		const body = await res.json();
		if (res.ok)
			show(id, true, describe(body));
		else
			show(id, false, 'no: ' + (body.error ? body.error.message : res.status));
	} catch (err) {
		show(id, false, 'no answer (' + err.message + ')');
	}
}

async function refresh() {
	await Promise.all([
		check('/healthz', 'healthz', (b) =>
			'alive, version ' + b.version + ', up ' + b.uptime_seconds + ' s'),
		check('/readyz', 'readyz', () => 'yes'),
	]);
	document.getElementById('checked').textContent = new Date().toLocaleTimeString();
}

refresh();
setInterval(refresh, 10000);
