// Shardline console front end: plain JavaScript, no build step, no dependency. Views are rendered from the
// console's JSON API (relative URLs, so the console works under any mount path) and refreshed when the
// server pushes a registry change over server-sent events (api/events); nothing here polls.
// Every value from the registry goes into the page through textContent, never as HTML.
'use strict';

const state = { session: null, token: sessionStorage.getItem('shardline-token') || '', view: null };

// ---- DOM helpers ----------------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (key.startsWith('on')) {
      node.addEventListener(key.slice(2), value);
    } else if (key === 'text') {
      node.textContent = String(value);
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function statusBadge(status) {
  return el('span', { class: `status s-${status}`, 'data-status': status, text: status });
}

function time(ms) {
  if (ms === null || ms === undefined) {
    return '—';
  }
  const d = new Date(ms);
  const pad = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function duration(run) {
  const ms = run.endedAt - run.startedAt;
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function table(headers, rows, attrs) {
  return el(
    'table',
    attrs || {},
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        headers.map(h => el('th', { scope: 'col', class: h.cls, text: h.label || h })),
      ),
    ),
    el('tbody', {}, rows),
  );
}

function toast(text) {
  const box = document.getElementById('toast');
  const p = el('p', { text });
  box.append(p);
  setTimeout(() => p.remove(), 4000);
}

// ---- API ------------------------------------------------------------------------------------------------

async function api(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json();
  if (!res.ok) {
    throw Object.assign(new Error(body.error || res.statusText), { status: res.status, body });
  }
  return body;
}

async function post(path, body) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (state.token !== '') {
    headers.authorization = `Bearer ${state.token}`;
  }
  const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body || {}) });
  const answer = await res.json();
  if (!res.ok) {
    if (res.status === 401) {
      document.getElementById('token-bar').hidden = false;
      document.getElementById('token').focus();
    }
    throw Object.assign(new Error(answer.error || res.statusText), {
      status: res.status,
      body: answer,
    });
  }
  return answer.result;
}

/** Asks through the confirmation dialog (Esc or Cancel says no); resolves true on Confirm. */
function confirmAction(text) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise(resolve => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

/** A button that, after confirmation, POSTs an action; absent in read-only mode. */
function actionButton(label, question, path, body, cls) {
  if (state.session.readOnly) {
    return null;
  }
  return el('button', {
    type: 'button',
    class: cls,
    'data-action': label,
    onclick: async event => {
      const button = event.currentTarget;
      if (!(await confirmAction(question))) {
        return;
      }
      try {
        await post(path, body);
        toast(`${label}: done`);
      } catch (err) {
        toast(`${label} failed: ${err.message}`);
      }
      button.focus();
    },
    text: label,
  });
}

const enc = encodeURIComponent;

// ---- views ----------------------------------------------------------------------------------------------

async function overviewView() {
  const jobs = await api('api/overview');
  const rows = jobs.map(j =>
    el(
      'tr',
      { 'data-job': j.job },
      el('td', {}, el('a', { href: `#/jobs/${enc(j.job)}`, text: j.job })),
      el(
        'td',
        {},
        statusBadge(j.status),
        j.reason ? el('div', { class: 'muted', text: j.reason }) : null,
      ),
      el(
        'td',
        {},
        el('code', { text: j.cron === null ? 'one-off' : j.cron }),
        j.timeZone && j.timeZone !== 'UTC' ? ` ${j.timeZone}` : '',
      ),
      el('td', { text: time(j.nextFireAt) }),
      el('td', { class: 'num', text: j.items === null ? '—' : j.items }),
      el('td', { class: 'num', text: j.instances }),
      el('td', { text: j.leader || '—' }),
      el('td', { class: 'num', 'data-col': 'failures', text: j.failuresLastHour }),
      el(
        'td',
        { class: 'actions-cell' },
        j.status === 'CORRUPTED'
          ? null
          : [
              actionButton(
                'Trigger',
                `Run job ${j.job} once now on every live instance?`,
                `api/jobs/${enc(j.job)}/trigger`,
              ),
              j.disabled
                ? actionButton('Enable', `Enable job ${j.job}?`, `api/jobs/${enc(j.job)}/enable`)
                : actionButton(
                    'Disable',
                    `Disable job ${j.job}? No item runs until it is enabled.`,
                    `api/jobs/${enc(j.job)}/disable`,
                    {},
                    'danger',
                  ),
            ],
      ),
    ),
  );
  const headers = [
    'Job',
    'Status',
    'Cron',
    'Next fire',
    { label: 'Items', cls: 'num' },
    { label: 'Instances', cls: 'num' },
    'Leader',
    { label: 'Failures (1 h)', cls: 'num' },
    state.session.readOnly ? '' : 'Actions',
  ];
  return [
    el('h2', { text: 'Jobs' }),
    jobs.length === 0
      ? el('p', { class: 'muted', text: 'No job in this namespace yet.' })
      : table(headers, rows, { id: 'jobs' }),
  ];
}

async function jobView(name) {
  const d = await api(`api/jobs/${enc(name)}`);
  const base = `api/jobs/${enc(name)}`;
  const facts = el(
    'dl',
    { class: 'facts' },
    [
      ['Status', statusBadge(d.status)],
      [
        'Cron',
        el('code', {
          text: d.config.cron === null ? 'one-off' : `${d.config.cron} (${d.config.timeZone})`,
        }),
      ],
      ['Next fire', time(d.nextFireAt)],
      ['Leader', d.leader || '—'],
      ['Instances', d.instances.length === 0 ? 'none' : d.instances.join(', ')],
      ['Failover', d.config.failover ? 'on' : 'off'],
      ['Config version', d.configVersion],
    ].map(([k, v]) => el('div', {}, el('dt', { text: k }), el('dd', {}, v))),
  );
  const rows = d.items.map(i =>
    el(
      'tr',
      { 'data-item': i.item },
      el('td', { class: 'num', text: i.item }),
      el('td', { 'data-col': 'owner', text: i.instanceId || 'unassigned' }),
      el('td', { 'data-col': 'status' }, statusBadge(i.status)),
      el('td', { class: 'num mono', text: i.last ? i.last.fencingToken : '—' }),
      el('td', { text: i.failover ? 'yes' : 'no' }),
      el('td', { text: i.parameter || '—' }),
      el(
        'td',
        { 'data-col': 'last' },
        i.last
          ? `${time(i.last.startedAt)} · ${duration(i.last)} · ${i.last.trigger} on ${i.last.instanceId}`
          : '—',
      ),
      el(
        'td',
        {},
        i.last ? statusBadge(i.last.outcome) : '—',
        i.last && i.last.error ? el('div', { class: 'muted', text: i.last.error }) : null,
      ),
      el(
        'td',
        {},
        i.disabled ? 'yes ' : 'no ',
        i.disabled
          ? actionButton(
              `Enable item ${i.item}`,
              `Enable item ${i.item} of ${name}?`,
              `${base}/enable`,
              { item: i.item },
            )
          : actionButton(
              `Disable item ${i.item}`,
              `Disable item ${i.item} of ${name}? Its owner skips it until it is enabled.`,
              `${base}/disable`,
              { item: i.item },
              'danger',
            ),
      ),
    ),
  );
  const actions = el(
    'div',
    { class: 'actions' },
    actionButton('Trigger', `Run job ${name} once now on every live instance?`, `${base}/trigger`),
    d.config.disabled
      ? actionButton('Enable job', `Enable job ${name}?`, `${base}/enable`)
      : actionButton(
          'Disable job',
          `Disable job ${name}? No item runs until it is enabled.`,
          `${base}/disable`,
          {},
          'danger',
        ),
    actionButton(
      'Shut down',
      `Stop job ${name} on every live instance? Workers keep their other jobs.`,
      `${base}/shutdown`,
      {},
      'danger',
    ),
    state.session.readOnly
      ? null
      : el('a', {
          class: 'button',
          href: `#/jobs/${enc(name)}/config`,
          text: 'Edit configuration',
        }),
    el('a', { class: 'button', href: `#/history?job=${enc(name)}`, text: 'History' }),
  );
  return [
    el('h2', {}, 'Job ', el('code', { text: name })),
    d.config.description ? el('p', { class: 'muted', text: d.config.description }) : null,
    facts,
    actions,
    el('h3', { text: 'Items' }),
    table(
      [
        'Item',
        'Owner',
        'Status',
        'Token (last run)',
        'Failover',
        'Parameter',
        'Last run',
        'Outcome',
        'Disabled',
      ],
      rows,
      { id: 'items' },
    ),
  ];
}

const CONFIG_FIELDS = [
  {
    name: 'cron',
    label: 'Cron',
    hint: 'seconds field first; empty = one-off (runs only when triggered)',
    type: 'text',
  },
  {
    name: 'timeZone',
    label: 'Time zone',
    hint: 'IANA name, e.g. UTC or Europe/Berlin',
    type: 'text',
  },
  {
    name: 'shardingTotalCount',
    label: 'Item count',
    hint: 'shardingTotalCount, 1–10000',
    type: 'number',
  },
  {
    name: 'shardingItemParameters',
    label: 'Item parameters',
    hint: '0=Beijing,1=Shanghai',
    type: 'text',
  },
  { name: 'jobParameter', label: 'Job parameter', type: 'text' },
  {
    name: 'failover',
    label: 'Failover',
    hint: 'in-flight items of a crashed instance run elsewhere',
    type: 'checkbox',
  },
  {
    name: 'misfire',
    label: 'Misfire',
    hint: 'run once after a fire missed while running',
    type: 'checkbox',
  },
  {
    name: 'monitorExecution',
    label: 'Monitor execution',
    hint: 'at most one run of an item at a time',
    type: 'checkbox',
  },
  { name: 'disabled', label: 'Disabled', type: 'checkbox' },
  { name: 'description', label: 'Description', type: 'textarea' },
];

function formValue(config, name) {
  if (name === 'cron') {
    return config.cron === null ? '' : config.cron;
  }
  if (name === 'shardingItemParameters') {
    return Object.entries(config.shardingItemParameters)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }
  return config[name];
}

async function configView(name) {
  const d = await api(`api/jobs/${enc(name)}`);
  const version = d.configVersion;
  const banner = el('div', { id: 'form-message', role: 'alert' });
  const form = el('form', { class: 'config', id: 'config-form', novalidate: true });
  for (const f of CONFIG_FIELDS) {
    const id = `f-${f.name}`;
    const value = formValue(d.config, f.name);
    const attrs = { id, name: f.name, 'aria-describedby': `err-${f.name}` };
    const input =
      f.type === 'checkbox'
        ? el('input', { ...attrs, type: 'checkbox', checked: value === true })
        : f.type === 'textarea'
          ? el('textarea', { ...attrs, rows: 2, text: value })
          : el('input', {
              ...attrs,
              type: f.type,
              value: value,
              min: f.type === 'number' ? 1 : undefined,
            });
    form.append(
      el(
        'label',
        { for: id },
        f.label,
        f.hint ? el('span', { class: 'hint', text: f.hint }) : null,
      ),
      el(
        'div',
        {},
        input,
        el('p', { class: 'field-error', id: `err-${f.name}`, 'data-error-for': f.name }),
      ),
    );
  }
  const save = el('button', { type: 'submit', class: 'primary', text: 'Save configuration' });
  form.append(
    el('span'),
    el(
      'div',
      { class: 'actions' },
      save,
      el('a', { class: 'button', href: `#/jobs/${enc(name)}`, text: 'Cancel' }),
    ),
  );
  form.addEventListener('submit', async event => {
    event.preventDefault();
    const patch = {};
    for (const f of CONFIG_FIELDS) {
      const input = form.elements[f.name];
      const value =
        f.type === 'checkbox'
          ? input.checked
          : f.type === 'number'
            ? Number(input.value)
            : input.value;
      if (value !== formValue(d.config, f.name)) {
        patch[f.name] = value;
      }
    }
    for (const p of form.querySelectorAll('.field-error')) {
      p.textContent = '';
    }
    for (const i of form.querySelectorAll('[aria-invalid]')) {
      i.removeAttribute('aria-invalid');
    }
    banner.className = '';
    banner.textContent = '';
    if (Object.keys(patch).length === 0) {
      toast('Nothing changed');
      return;
    }
    if (
      !(await confirmAction(
        `Save the configuration of ${name}? Every instance follows it at once.`,
      ))
    ) {
      save.focus();
      return;
    }
    try {
      await post(`api/jobs/${enc(name)}/config`, { version, patch });
      toast(`Configuration of ${name} saved`);
      location.hash = `#/jobs/${enc(name)}`;
    } catch (err) {
      const issues = (err.body && err.body.issues) || [];
      let first = null;
      for (const issue of issues) {
        const top = issue.field.split('.')[0];
        const slot = form.querySelector(`[data-error-for="${top}"]`);
        if (slot !== null) {
          slot.textContent = issue.message;
          form.elements[top].setAttribute('aria-invalid', 'true');
          first = first || form.elements[top];
        } else {
          banner.className = 'error';
          banner.textContent = issue.message;
        }
      }
      if (issues.length === 0) {
        banner.className = 'error';
        banner.textContent = err.message;
      }
      (first || save).focus();
    }
  });
  state.configVersion = { job: name, version };
  return [
    el('h2', {}, 'Configuration of ', el('code', { text: name })),
    el('p', {
      class: 'muted',
      text: `Version ${version}. Saved only if nobody changed it meanwhile.`,
    }),
    el('div', { id: 'stale' }),
    banner,
    form,
  ];
}

async function instancesView() {
  const rows = await api('api/instances');
  const body = rows.map(r =>
    el(
      'tr',
      { 'data-instance': r.instanceId },
      el(
        'td',
        {},
        el('strong', { text: r.instanceId }),
        el('div', {
          class: 'muted',
          text: [r.host, r.pid && `pid ${r.pid}`, r.version && `v${r.version}`]
            .filter(Boolean)
            .join(' · '),
        }),
      ),
      el('td', { text: r.ip || '—' }),
      el('td', { text: time(r.startedAt) }),
      el(
        'td',
        {},
        el(
          'ul',
          { class: 'plain' },
          r.jobs.map(j =>
            el(
              'li',
              { 'data-job': j.job },
              el('a', { href: `#/jobs/${enc(j.job)}`, text: j.job }),
              ` items ${j.items.length === 0 ? 'none' : j.items.join(', ')}`,
              j.leader ? ' · leader ' : ' ',
              statusBadge(j.serverEnabled ? 'ENABLED' : 'DISABLED'),
              ' ',
              r.ip === null
                ? null
                : j.serverEnabled
                  ? actionButton(
                      `Disable server ${r.ip}`,
                      `Disable job ${j.job} on server ${r.ip}? Its items move to other servers.`,
                      `api/jobs/${enc(j.job)}/disable`,
                      { server: r.ip },
                      'danger',
                    )
                  : actionButton(
                      `Enable server ${r.ip}`,
                      `Enable job ${j.job} on server ${r.ip}?`,
                      `api/jobs/${enc(j.job)}/enable`,
                      { server: r.ip },
                    ),
              ' ',
              actionButton(
                'Shut down',
                `Stop job ${j.job} on instance ${r.instanceId}? Its other jobs keep running.`,
                `api/jobs/${enc(j.job)}/shutdown`,
                { instanceId: r.instanceId },
                'danger',
              ),
            ),
          ),
        ),
      ),
    ),
  );
  return [
    el('h2', { text: 'Instances' }),
    rows.length === 0
      ? el('p', { class: 'muted', text: 'No live instance.' })
      : table(['Instance', 'Server IP', 'Started', 'Jobs'], body, { id: 'instances' }),
  ];
}

function toLocalInput(ms) {
  if (!ms) {
    return '';
  }
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

async function historyView(params) {
  const [view, jobs] = await Promise.all([api(`api/history?${params}`), api('api/overview')]);
  const field = (label, input) => el('label', {}, label, input);
  const form = el(
    'form',
    { class: 'filters', id: 'history-filters' },
    field(
      'Job',
      el(
        'select',
        { name: 'job' },
        el('option', { value: '', text: 'any' }),
        jobs.map(j =>
          el('option', { value: j.job, selected: params.get('job') === j.job, text: j.job }),
        ),
      ),
    ),
    field(
      'Item',
      el('input', { name: 'item', type: 'number', min: 0, value: params.get('item') || '' }),
    ),
    field(
      'Instance',
      el('input', { name: 'instance', type: 'text', value: params.get('instance') || '' }),
    ),
    field(
      'Outcome',
      el(
        'select',
        { name: 'outcome' },
        ['', 'succeeded', 'failed', 'aborted'].map(o =>
          el('option', {
            value: o,
            selected: (params.get('outcome') || '') === o,
            text: o || 'any',
          }),
        ),
      ),
    ),
    field(
      'From',
      el('input', {
        name: 'from',
        type: 'datetime-local',
        value: toLocalInput(Number(params.get('from'))),
      }),
    ),
    field(
      'To',
      el('input', {
        name: 'to',
        type: 'datetime-local',
        value: toLocalInput(Number(params.get('to'))),
      }),
    ),
    el('button', { type: 'submit', text: 'Filter' }),
  );
  form.addEventListener('submit', event => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      if (v !== '') {
        next.set(k, k === 'from' || k === 'to' ? String(new Date(v).getTime()) : v);
      }
    }
    location.hash = `#/history?${next}`;
  });
  const rows = view.records.map(r =>
    el(
      'tr',
      { 'data-run': `${r.job}#${r.item}@${r.startedAt}` },
      el('td', { text: time(r.startedAt) }),
      el('td', {}, el('a', { href: `#/jobs/${enc(r.job)}`, text: r.job })),
      el('td', { class: 'num', text: r.item }),
      el('td', { text: r.instanceId }),
      el('td', { text: r.trigger }),
      el('td', {}, statusBadge(r.outcome)),
      el('td', { class: 'num', text: duration(r) }),
      el('td', { class: 'num mono', text: r.fencingToken }),
      el('td', { class: 'muted', text: r.error || '' }),
    ),
  );
  return [
    el('h2', { text: 'Execution history' }),
    view.source === 'last-run'
      ? el('p', {
          class: 'notice',
          text: 'No history store configured: showing the last run of each item, as kept in the registry. Start the console with --history to see every run.',
        })
      : null,
    form,
    rows.length === 0
      ? el('p', { class: 'muted', text: 'No run matches.' })
      : table(
          [
            'Started',
            'Job',
            { label: 'Item', cls: 'num' },
            'Instance',
            'Trigger',
            'Outcome',
            { label: 'Duration', cls: 'num' },
            { label: 'Token', cls: 'num' },
            'Error',
          ],
          rows,
          { id: 'history' },
        ),
  ];
}

async function healthView() {
  const h = await api('api/health');
  const rows = [
    ['Backend', el('code', { text: h.backend })],
    ['Connection', statusBadge(h.connectionState)],
    ['Session epoch', h.sessionEpoch],
    ['Session timeout', `${h.sessionTimeoutMs} ms`],
    ['Last server contact', h.sinceLastContactMs === null ? '—' : `${h.sinceLastContactMs} ms ago`],
    ['Cached nodes', h.cacheNodes],
    ['History', h.historySource === 'history' ? 'history store' : 'last run per item (registry)'],
    [
      'Console',
      state.session.readOnly
        ? 'read-only'
        : state.session.tokenRequired
          ? 'actions need the token'
          : 'actions open',
    ],
  ];
  return [
    el('h2', { text: 'Registry' }),
    table(
      ['', ''],
      rows.map(([k, v]) => el('tr', {}, el('th', { scope: 'row', text: k }), el('td', {}, v))),
      { id: 'health' },
    ),
  ];
}

// ---- routing and live updates ---------------------------------------------------------------------------

function parseRoute() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || '');
  if (parts[0] === 'jobs' && parts[1] && parts[2] === 'config') {
    return { name: 'config', job: parts[1], render: () => configView(parts[1]) };
  }
  if (parts[0] === 'jobs' && parts[1]) {
    return { name: 'job', job: parts[1], render: () => jobView(parts[1]) };
  }
  if (parts[0] === 'instances') {
    return { name: 'instances', render: instancesView };
  }
  if (parts[0] === 'history') {
    return { name: 'history', render: () => historyView(params) };
  }
  if (parts[0] === 'health') {
    return { name: 'health', render: healthView };
  }
  return { name: 'jobs', render: overviewView };
}

let rendering = Promise.resolve();

/** Renders the current route; a live refresh keeps the focused control focused (matched by its label). */
function render(live) {
  rendering = rendering.then(async () => {
    const route = parseRoute();
    state.view = route;
    const main = document.getElementById('main');
    const focused = document.activeElement;
    const key = focused && main.contains(focused) ? focusKey(focused) : null;
    let content;
    try {
      content = await route.render();
    } catch (err) {
      content = [
        el('h2', { text: 'Cannot show this view' }),
        el('p', { class: 'error', text: err.message }),
      ];
    }
    main.replaceChildren(...content.flat().filter(Boolean));
    for (const a of document.querySelectorAll('header nav a')) {
      const current =
        a.dataset.nav === (route.name === 'job' || route.name === 'config' ? 'jobs' : route.name);
      if (current) {
        a.setAttribute('aria-current', 'page');
      } else {
        a.removeAttribute('aria-current');
      }
    }
    main.dataset.view = route.name;
    main.dataset.rendered = String(Date.now());
    if (key !== null) {
      const again = [...main.querySelectorAll('button, a, input, select, textarea')].find(
        n => focusKey(n) === key,
      );
      if (again) {
        again.focus();
      }
    } else if (!live) {
      main.focus();
    }
  });
  return rendering;
}

function focusKey(node) {
  const row = node.closest('[data-item], [data-job], [data-instance]');
  const rowKey = row
    ? `${row.dataset.item || ''}/${row.dataset.job || ''}/${row.dataset.instance || ''}`
    : '';
  return `${node.tagName}/${node.name || ''}/${node.textContent}/${rowKey}`;
}

function onChange(change) {
  const view = state.view;
  if (view === null) {
    return;
  }
  if (view.name === 'config') {
    // Never re-render a form being edited; say that the stored configuration moved on.
    if (change.jobs.includes(view.job)) {
      api(`api/jobs/${enc(view.job)}`).then(
        d => {
          const stale = document.getElementById('stale');
          if (stale && state.configVersion && d.configVersion !== state.configVersion.version) {
            stale.replaceChildren(
              el('p', {
                class: 'notice',
                text: `The stored configuration changed (now version ${d.configVersion}). Saving will be refused: reload this form to edit the new version.`,
              }),
            );
          }
        },
        () => undefined,
      );
    }
    return;
  }
  const relevant =
    view.name === 'jobs' ||
    view.name === 'instances' ||
    (view.name === 'job' && change.jobs.includes(view.job)) ||
    (view.name === 'history' && change.runs) ||
    (view.name === 'health' && change.connection);
  if (relevant) {
    void render(true);
  }
}

function connectLive() {
  const live = document.getElementById('live');
  const source = new EventSource('api/events');
  source.addEventListener('hello', () => {
    live.textContent = 'live';
    live.className = 'badge on';
    void render(true); // catch up with anything missed while disconnected
  });
  source.addEventListener('change', event => onChange(JSON.parse(event.data)));
  source.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
    live.className = 'badge off';
  });
}

async function start() {
  if (location.hash.startsWith('#token=')) {
    state.token = decodeURIComponent(location.hash.slice('#token='.length));
    sessionStorage.setItem('shardline-token', state.token);
    history.replaceState(null, '', `${location.pathname}${location.search}#/`);
  }
  state.session = await api('api/session');
  const mode = document.getElementById('mode');
  mode.textContent = state.session.readOnly ? 'read-only' : state.session.backend;
  document.title = `Shardline · ${state.session.backend}`;
  const bar = document.getElementById('token-bar');
  bar.hidden = !(state.session.tokenRequired && !state.session.readOnly && state.token === '');
  bar.addEventListener('submit', event => {
    event.preventDefault();
    state.token = document.getElementById('token').value;
    sessionStorage.setItem('shardline-token', state.token);
    bar.hidden = true;
    toast('Token set for this tab');
  });
  window.addEventListener('hashchange', () => void render(false));
  await render(false);
  connectLive();
}

start().catch(err => {
  document
    .getElementById('main')
    .replaceChildren(el('p', { class: 'error', text: `The console cannot start: ${err.message}` }));
});
