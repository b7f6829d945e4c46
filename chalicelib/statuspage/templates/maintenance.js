// Polls status.json and the health endpoints in parallel; returns to the app once all are healthy.
(function(){var D=document,C=JSON.parse(D.getElementById('cfg').textContent);
function get(u,o){var c=new AbortController(),t=setTimeout(function(){c.abort()},C.timeout);o.signal=c.signal;o.cache='no-store';
return fetch(u,o).finally(function(){clearTimeout(t)})}
function healthy(u){return get(u,{redirect:'manual',credentials:'omit'}).then(function(r){return r.ok},function(){return false})}
function status(){return get(C.status,{}).then(function(r){if(!r.ok)throw r.status;return r.json()}).then(function(s){show(s);return s},function(){
D.getElementById('note').textContent='Status details are briefly unavailable; still checking.';return null})}
function show(s){var l=D.getElementById('down');l.textContent='';(s.components||[]).forEach(function(c){if(c.status==='UP')return;
var i=D.createElement('li');i.textContent=c.name+': '+(C.labels[c.status]||c.status)+(c.since?' since '+c.since:'');l.appendChild(i)});
var m=(s.maintenance&&s.maintenance.active)||[];if(m.length)D.getElementById('message').textContent=m[0].message;
D.getElementById('updated').textContent=s.updated_at||'';D.getElementById('note').textContent=''}
function back(){var a=C.app||location.origin+'/';return a+(a.indexOf('?')<0?'?':'&')+'v='+Date.now()}
function poll(){Promise.all([status()].concat(C.health.map(healthy))).then(function(a){var s=a[0],ok=a.slice(1).every(Boolean);
var held=!!(s&&s.maintenance&&s.maintenance.active&&s.maintenance.active.length);
D.getElementById('checked').textContent=new Date().toISOString().slice(0,19)+'Z';
if(ok&&!held){D.getElementById('note').textContent='The service is back: returning you now.';location.replace(back());return}
setTimeout(poll,C.interval+Math.random()*C.jitter)})}
poll()})();
