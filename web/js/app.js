// app.js owns starting the dashboard: the routes and their views, the sign-in guard, what a refused token does, the sign-out button and the skip link.

import { onUnauthorized, token } from './api.js';
import { add, setGuard, go, start, parse } from './router.js';
import { session, signOut } from './session.js';
import { loginView } from './views/login.js';
import { overviewView } from './views/overview.js';
import { agenciesView, scorecardView } from './views/agencies.js';
import { projectsView, projectView } from './views/projects.js';
import { overlapsView, overlapView } from './views/overlaps.js';
import { alertsView, alertView } from './views/alerts.js';

// Where a reader who must sign in comes back to afterwards.
function loginHash() {
	const { path, query } = parse(location.hash);
	if (path === '/' || path === '/login')
		return '#/login';
	const q = new URLSearchParams(query).toString();
	return '#/login?next=' + encodeURIComponent(path + (q ? '?' + q : ''));
}

add('/login', 'login', loginView, { open: true });
add('/', 'overview', overviewView);
add('/agencies', 'agencies', agenciesView);
add('/agencies/:code', 'agency', scorecardView, { nav: 'agencies' });
add('/projects', 'projects', projectsView);
add('/projects/:agency/:id', 'project', projectView, { nav: 'projects' });
add('/overlaps', 'overlaps', overlapsView);
add('/overlaps/:id', 'overlap', overlapView, { nav: 'overlaps' });
add('/alerts', 'alerts', alertsView);
add('/alerts/:id', 'alert', alertView, { nav: 'alerts' });

setGuard(async () => {
	if (!token())
		return loginHash();
	await session();
	return null;
});

onUnauthorized(() => {
	const next = loginHash();
	signOut('The server refused your token (it may have expired or been revoked). Sign in again.', true);
	go(next, true);
});

document.getElementById('logout').addEventListener('click', () => {
	signOut('You have signed out.');
	go('#/login');
});

// The skip link moves focus to the view without touching the hash the routes live in.
document.getElementById('skip').addEventListener('click', (e) => {
	e.preventDefault();
	const main = document.getElementById('view');
	main.focus();
	main.scrollIntoView();
});

// Errors the views did not catch still reach the reader, never the console.
window.addEventListener('unhandledrejection', (e) => {
	e.preventDefault();
	const box = document.getElementById('error');
	if (box)
		box.textContent = 'Something went wrong: ' + (e.reason && e.reason.message ? e.reason.message : String(e.reason));
});

window.addEventListener('error', (e) => {
	e.preventDefault();
	const box = document.getElementById('error');
	if (box)
		box.textContent = 'Something went wrong: ' + (e.message || 'an error in the page');
});

start();
