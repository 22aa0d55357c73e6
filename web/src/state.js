// What the dashboard shows now, exposed as window.__shelfwatch for people debugging a page
// and for the browser test (tests/dashboard.test.mjs), which reads it to know that a page has
// refreshed and how many points each chart drew from the server's data.

export const registry = {
  page: null,        // the page shown ("overview", ...)
  refreshes: 0,      // completed refreshes of this page
  lastRefresh: null, // Unix ms of the last completed refresh
  paused: false,     // true while the tab is hidden
  charts: {},        // chart id -> finite data points drawn
  tables: {},        // table id -> rows shown
  empty: {},         // panel id -> the empty-state message shown instead of data
  errors: {},        // panel id -> error message shown
};
window.__shelfwatch = registry;

export function resetPage(page) {
  registry.page = page;
  registry.refreshes = 0;
  registry.lastRefresh = null;
  registry.charts = {};
  registry.tables = {};
  registry.empty = {};
  registry.errors = {};
}
