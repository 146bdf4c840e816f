#!/usr/bin/env node
/*
 * examples/node/app.js: the NutraGenie service layer of the seed app
 * (UserService, RecipeService, CookingService, ChatService, PaymentService,
 * RecommendationService) as a client of the SQL API only: one driver (pg),
 * no MongoDB driver, no rollback code.  Every call is one ng_* function in
 * one transaction; PostgreSQL and MongoDB change together or not at all.
 *
 * A request that acts for a signed-in user runs in a transaction that sets
 * nutragenie_app.user_id first (SET LOCAL, through set_config), so that a
 * role set up with ng_setup_app_role(role, true) sees and changes only that
 * user's rows.
 *
 * usage: node app.js            (PGHOST, PGPORT, PGUSER, PGDATABASE)
 * Prints one line per step, "ok <step>: <detail>", and exits 1 on the first
 * step whose result is not what the service promises.
 */
'use strict';

const { Pool } = require('pg');

const pool = new Pool({ max: 2 });
// bigint (ids) as JavaScript numbers: ids stay far below 2^53
require('pg').types.setTypeParser(20, Number);

// One call of the SQL API, as the user the request acts for (or nobody).
async function call(userId, sql, params = []) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT set_config('nutragenie_app.user_id', $1, true)",
                       [userId == null ? '' : String(userId)]);
    const res = await client.query(sql, params);
    await client.query('COMMIT');
    return res.rows;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}
const one = async (userId, sql, params) => (await call(userId, sql, params))[0];

function check(step, cond, detail) {
  if (!cond) {
    console.log(`FAIL ${step}: ${JSON.stringify(detail)}`);
    process.exit(1);
  }
  console.log(`ok ${step}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
}

async function main() {
  const email = `node.${process.pid}@example.com`;

  // UserService: sign up, log in, profile, goal
  const { id: userId } = await one(null, 'SELECT nutragenie.ng_create_user($1) AS id', [{
    email, password: 'a long passphrase', nickname: 'node',
    dietaryProfile: { dietType: 'vegetarian', allergies: ['peanuts'] },
    cookingProfile: { favoriteCuisines: ['indian'], preferredChef: 'chef_lena' },
  }]);
  check('signup', userId > 0, `user ${userId}`);
  const { id: loggedIn } = await one(null, 'SELECT nutragenie.ng_verify_login($1, $2) AS id', [email, 'a long passphrase']);
  check('login', loggedIn === userId, 'password verified');
  const { id: refused } = await one(null, 'SELECT nutragenie.ng_verify_login($1, $2) AS id', [email, 'wrong']);
  check('login refused', refused === null, 'wrong password refused');
  const { p: profile } = await one(userId, 'SELECT nutragenie.ng_update_user($1, $2) AS p',
                                   [userId, { cookingProfile: { skillLevel: 'intermediate' } }]);
  check('profile', profile.cookingProfile.skillLevel === 'intermediate' &&
        profile.dietaryProfile.dietType === 'vegetarian', profile.cookingProfile);
  const { g: goal } = await one(userId, 'SELECT nutragenie.ng_set_nutrition_goal($1, $2) AS g',
                                [userId, { calories: 2100, proteinG: 90 }]);
  check('goal', goal.calories === 2100, goal);

  // RecipeService: create, search, read, rate
  const { id: recipeId } = await one(userId, 'SELECT nutragenie.ng_create_recipe($1) AS id', [{
    title: `Node dal ${process.pid}`, category: 'dinner', cuisine: 'indian', servings: 2, createdBy: userId,
    ingredients: [{ name: 'red lentils', quantity: 200, unit: 'g' }], steps: ['Rinse', 'Simmer', 'Season'],
    nutrition: { calories: 430, protein_g: 24 }, tags: ['vegetarian'],
  }]);
  const found = await call(userId, 'SELECT recipe_id FROM nutragenie.ng_search_recipes($1)',
                           [{ text: 'Node dal', forUser: userId }]);
  check('search', found.some((r) => r.recipe_id === recipeId), `recipe ${recipeId} found`);
  const { r: full } = await one(userId, 'SELECT nutragenie.ng_full_recipe($1) AS r', [recipeId]);
  check('full recipe', full.content.steps.length === 3 && !full.contentMissing, full.title);
  const { r: rated } = await one(userId, 'SELECT nutragenie.ng_rate_recipe($1, $2, 5) AS r', [userId, recipeId]);
  check('rate', rated.ratingCount === 1, rated);

  // CookingService: a voice session
  const { id: sessionId } = await one(userId, 'SELECT nutragenie.ng_start_cooking_session($1, $2) AS id', [userId, recipeId]);
  await one(userId, 'SELECT nutragenie.ng_log_voice_interaction($1, $2)',
            [sessionId, { transcript: 'rinsed', step: 1, stepCompleted: true }]);
  const { p: progress } = await one(userId, 'SELECT nutragenie.ng_cooking_progress($1) AS p', [sessionId]);
  check('progress', progress.nextStep.instruction === 'Simmer', progress.nextStep);
  const { s: summary } = await one(userId, 'SELECT nutragenie.ng_finish_cooking_session($1) AS s', [sessionId]);
  check('finish', summary.stepsCompleted === 1 && summary.totalSteps === 3, summary);

  // ChatService: an AI chef's answer, explained
  const { c: chat } = await one(userId, 'SELECT nutragenie.ng_chat($1, $2) AS c', [userId, 'how many calories in this?']);
  check('chat', chat.chefId === 'chef_lena' && chat.explanation.trigger === 'nutrition_question', chat.reply);

  // PaymentService: a webhook delivered twice, then the success notice
  const payment = { userId, amount: 4.99, currency: 'EUR', provider: 'stripe', providerReference: `pi_node_${process.pid}` };
  const { p: first } = await one(userId, 'SELECT nutragenie.ng_record_payment($1) AS p', [payment]);
  const { p: again } = await one(userId, 'SELECT nutragenie.ng_record_payment($1) AS p', [payment]);
  const { p: paid } = await one(userId, 'SELECT nutragenie.ng_record_payment($1) AS p', [{ ...payment, status: 'succeeded' }]);
  check('payment', first.created && !again.changed && again.paymentId === first.paymentId &&
        paid.status === 'succeeded' && paid.history.length === 2, paid.history.map((h) => h.to));

  // isolation: acting for this user, another user's rows are out of reach
  let isolated = false;
  try {
    await one(userId, 'SELECT nutragenie.ng_rate_recipe($1, $2, 1)', [userId === 1 ? 2 : 1, recipeId]);
  } catch (err) {
    isolated = /row-level security|does not exist/.test(err.message);
  }
  check('isolation', isolated, 'cannot rate on behalf of another user');

  // RecommendationService
  const recs = await call(userId, 'SELECT recipe_id, reasons FROM nutragenie.ng_recommend_recipes($1, 3)', [userId]);
  check('recommend', recs.length > 0 && recs.every((r) => r.reasons.length > 0), recs[0]);

  // events: read the log from a cursor (as a consumer would, from 0 here)
  const events = await call(null, "SELECT id, event FROM nutragenie.ng_events(0, 10000) WHERE payload ->> 'userId' = $1",
                            [String(userId)]);
  check('events', events.some((e) => e.event === 'user.created'), `${events.length} events for the user`);
}

main().then(() => pool.end(), (err) => {
  console.log(`FAIL: ${err.message}`);
  pool.end();
  process.exit(1);
});
