// Refreshes the states in place from status.json: textContent only, nothing is parsed as HTML.
(function(){var D=document,C=JSON.parse(D.getElementById('labels').textContent),L=C.labels;
function tick(){fetch('status.json',{cache:'no-store'}).then(function(r){if(!r.ok)throw r.status;return r.json()})
.then(function(s){(s.components||[]).forEach(function(c,i){var n=D.querySelector('[data-c="'+i+'"]');
if(!n||n.getAttribute('data-name')!==c.name)return;var l=L[c.status]||L.UNKNOWN;var t=n.querySelector('.state');
t.className='state s-'+(L[c.status]?c.status:'UNKNOWN');t.textContent=l[0]+' '+l[1]});
var u=D.querySelector('#updated time');if(u){u.textContent=s.updated_at;u.title='';u.setAttribute('datetime',s.updated_at)}
var o=D.getElementById('overall'),v=s.overall||{};if(v.text){o.textContent=v.text;
o.className='banner s-'+(L[v.status]?v.status:'UNKNOWN')}if(window.autohealTimes)autohealTimes()})
.catch(function(){}).then(function(){setTimeout(tick,C.every*(1+Math.random()/6))})}
setTimeout(tick,C.every)})();
