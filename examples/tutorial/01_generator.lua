-- Coroutines before gevent (seed 000 "协程"): a coroutine is a function that
-- can stop, hand control back, and later go on where it stopped. Python's
-- generator is a plain Lua coroutine; no gevent here.
local function foo()
  for i = 0, 9 do
    -- 暂时返回一个值，并将控制权交出去
    coroutine.yield(i)
    print("foo: 控制权又回到我手上了，叫我大笨蛋")
  end
end

local bar = coroutine.wrap(foo)
-- 执行coroutine
print(bar())
print("main: 现在控制权在我手上，啦啦啦")
print("main:hello baby!")
-- 回到刚刚foo这个coroutine中断的地方继续执行
print(bar())
print("main: 老大我又来了")
print(bar())
print(bar())
