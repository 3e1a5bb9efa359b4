'use strict';

// The framework takes any --param and ignores the names the template never reads, so a typo
// (--param ttlSecond=60) would deploy the default silently. Refuse a name that params.default
// does not declare, and suggest the closest one, as the functions do for OTP_* settings.

function distance(a, b) {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j];
      const cost = a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1;
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length];
}

function unknownParams(given, declared) {
  const problems = [];
  for (const item of given) {
    const name = String(item).split('=')[0];
    if (declared.includes(name)) continue;
    const ranked = declared
      .map((known) => [distance(name, known), known])
      .sort((x, y) => x[0] - y[0] || x[1].localeCompare(y[1]));
    const close = ranked.length && ranked[0][0] <= Math.max(2, Math.floor(name.length / 3));
    problems.push(close ? `${name} (did you mean ${ranked[0][1]}?)` : name);
  }
  return problems;
}

class CheckParams {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options || {};
    this.hooks = { initialize: () => this.check() };
  }

  check() {
    const given = [].concat(this.options.param || []);
    const params = (this.serverless.configurationInput || {}).params || {};
    const declared = Object.keys(params.default || {});
    const problems = unknownParams(given, declared);
    if (problems.length) {
      throw new this.serverless.classes.Error(
        `unknown --param: ${problems.join(', ')}; the parameters are listed under params.default in serverless.yml`
      );
    }
  }
}

module.exports = CheckParams;
