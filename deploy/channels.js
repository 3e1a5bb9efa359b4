'use strict';

// The phone channels at packaging time, a plugin of serverless.yml:
// - checks that each configured provider has its identity, before anything is packaged or deployed;
// - fills in the country rules of the protect configuration the stack creates
//   (deploy/resources/protect-configuration.yml) from smsAllowedCountries: ALLOW each listed
//   country and BLOCK every other, for SMS and voice alike, as OTP_SMS_ALLOWED_COUNTRIES covers
//   every phone channel; '*' blocks none.
// COUNTRIES is libphonenumber's region list, which the service checks destinations with
// (tests/infrastructure/test_channels_deploy.py keeps the two the same).
const COUNTRIES = [
  'AC', 'AD', 'AE', 'AF', 'AG', 'AI', 'AL', 'AM', 'AO', 'AR', 'AS', 'AT', 'AU', 'AW', 'AX', 'AZ',
  'BA', 'BB', 'BD', 'BE', 'BF', 'BG', 'BH', 'BI', 'BJ', 'BL', 'BM', 'BN', 'BO', 'BQ', 'BR', 'BS',
  'BT', 'BW', 'BY', 'BZ', 'CA', 'CC', 'CD', 'CF', 'CG', 'CH', 'CI', 'CK', 'CL', 'CM', 'CN', 'CO',
  'CR', 'CU', 'CV', 'CW', 'CX', 'CY', 'CZ', 'DE', 'DJ', 'DK', 'DM', 'DO', 'DZ', 'EC', 'EE', 'EG',
  'EH', 'ER', 'ES', 'ET', 'FI', 'FJ', 'FK', 'FM', 'FO', 'FR', 'GA', 'GB', 'GD', 'GE', 'GF', 'GG',
  'GH', 'GI', 'GL', 'GM', 'GN', 'GP', 'GQ', 'GR', 'GT', 'GU', 'GW', 'GY', 'HK', 'HN', 'HR', 'HT',
  'HU', 'ID', 'IE', 'IL', 'IM', 'IN', 'IO', 'IQ', 'IR', 'IS', 'IT', 'JE', 'JM', 'JO', 'JP', 'KE',
  'KG', 'KH', 'KI', 'KM', 'KN', 'KP', 'KR', 'KW', 'KY', 'KZ', 'LA', 'LB', 'LC', 'LI', 'LK', 'LR',
  'LS', 'LT', 'LU', 'LV', 'LY', 'MA', 'MC', 'MD', 'ME', 'MF', 'MG', 'MH', 'MK', 'ML', 'MM', 'MN',
  'MO', 'MP', 'MQ', 'MR', 'MS', 'MT', 'MU', 'MV', 'MW', 'MX', 'MY', 'MZ', 'NA', 'NC', 'NE', 'NF',
  'NG', 'NI', 'NL', 'NO', 'NP', 'NR', 'NU', 'NZ', 'OM', 'PA', 'PE', 'PF', 'PG', 'PH', 'PK', 'PL',
  'PM', 'PR', 'PS', 'PT', 'PW', 'PY', 'QA', 'RE', 'RO', 'RS', 'RU', 'RW', 'SA', 'SB', 'SC', 'SD',
  'SE', 'SG', 'SH', 'SI', 'SJ', 'SK', 'SL', 'SM', 'SN', 'SO', 'SR', 'SS', 'ST', 'SV', 'SX', 'SY',
  'SZ', 'TA', 'TC', 'TD', 'TG', 'TH', 'TJ', 'TK', 'TL', 'TM', 'TN', 'TO', 'TR', 'TT', 'TV', 'TW',
  'TZ', 'UA', 'UG', 'US', 'UY', 'UZ', 'VA', 'VC', 'VE', 'VG', 'VI', 'VN', 'VU', 'WF', 'WS', 'XK',
  'YE', 'YT', 'ZA', 'ZM', 'ZW',
];

function rules(allowed) {
  const text = String(allowed).trim();
  if (text === '*') return [];
  const listed = new Set(text.split(',').map((code) => code.trim().toUpperCase()).filter(Boolean));
  const unknown = [...listed].filter((code) => !COUNTRIES.includes(code));
  if (unknown.length) throw new Error(`smsAllowedCountries: unknown region code(s): ${unknown.join(', ')}`);
  return COUNTRIES.map((code) => ({ CountryCode: code, ProtectStatus: listed.has(code) ? 'ALLOW' : 'BLOCK' }));
}

// The template's parameters, by their CloudFormation names, defaulted from the deploy parameters.
function problems(given) {
  const found = [];
  const sms = given.SmsProvider;
  const voice = given.VoiceProvider;
  if (sms === 'eum' && !given.SmsOriginationIdentity) {
    found.push('smsProvider=eum needs smsOriginationIdentity (an ARN)');
  }
  if (voice === 'eum' && !given.VoiceOriginationIdentity) found.push('voiceProvider=eum needs voiceOriginationIdentity');
  if ((sms === 'notify' || voice === 'notify') && !given.NotifyConfigurationId) {
    found.push('the notify provider needs notifyConfigurationId');
  }
  if (String(given.CreateProtectConfiguration) === 'true' && given.SmsProtectConfigurationId) {
    found.push('createProtectConfiguration=true creates the protect configuration: leave smsProtectConfigurationId empty');
  }
  return found;
}

function defaults(parameters) {
  const given = {};
  for (const [name, parameter] of Object.entries(parameters || {})) given[name] = parameter.Default;
  return given;
}

class Channels {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:initialize': () => this.check(),
      'after:aws:package:finalize:mergeCustomProviderResources': () => this.countryRules(),
    };
  }

  check() {
    const found = problems(defaults((this.serverless.service.resources || {}).Parameters));
    if (found.length) throw new Error(`deploy parameters: ${found.join('; ')}`);
  }

  countryRules() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const resource = template.Resources.OtpProtectConfiguration;
    if (!resource) return;
    const listed = rules(this.serverless.service.provider.environment.OTP_SMS_ALLOWED_COUNTRIES);
    resource.Properties.CountryRuleSet = { SMS: listed, VOICE: listed };
  }
}

module.exports = Channels;
module.exports.rules = rules;
module.exports.problems = problems;
module.exports.COUNTRIES = COUNTRIES;
