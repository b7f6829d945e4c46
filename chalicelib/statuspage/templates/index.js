// Refreshes the states in place from status.json: textContent only, nothing is parsed as HTML.
(function(){var D=document,L=JSON.parse(D.getElementById('labels').textContent);
function tick(){fetch('status.json',{cache:'no-store'}).then(function(r){if(!r.ok)throw r.status;return r.json()})
.then(function(s){(s.components||[]).forEach(function(c,i){var n=D.querySelector('[data-c="'+i+'"]');
if(!n||n.getAttribute('data-name')!==c.name)return;var l=L[c.status]||L.UNKNOWN;var t=n.querySelector('.state');
t.className='state s-'+(L[c.status]?c.status:'UNKNOWN');t.textContent=l[0]+' '+l[1]});
var u=D.getElementById('updated');u.textContent=s.updated_at;u.setAttribute('datetime',s.updated_at);
var o=D.getElementById('overall');o.textContent=s.healthy?'All systems operational':'Some systems are affected'})
.catch(function(){}).then(function(){setTimeout(tick,30000+Math.random()*5000)})}
setTimeout(tick,30000)})();
